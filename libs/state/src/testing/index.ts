/**
 * `@meetedge/state/testing`: the ClusterState contract suite, the fixtures it
 * runs on, and a manual clock for tests of code that uses a store.
 */
export { describeClusterStateContract } from './contract';
export {
  ManualClock,
  memoryClusterStateFactory,
  redisClusterStateFactory,
  type ClusterStateFactory,
  type ClusterStateFixture,
} from './fixtures';

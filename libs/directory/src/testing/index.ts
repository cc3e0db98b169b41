/**
 * `@meetedge/directory/testing`: the Directory contract suite, the fixtures it
 * runs on, and a manual clock for tests of code that uses a directory.
 */
export { describeDirectoryContract } from './contract';
export {
  ManualClock,
  memoryDirectoryFactory,
  redisDirectoryFactory,
  type DirectoryFactory,
  type DirectoryFixture,
} from './fixtures';

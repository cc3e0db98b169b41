export * from './directory';
export { MemoryDirectory, type MemoryDirectoryOptions } from './memory-directory';
export { RedisDirectory, type RedisDirectoryOptions } from './redis-directory';
export type { DirectoryLogger } from './logger';
export { openDirectory, type DirectorySettings } from './open';
export {
  DIRECTORY_KEY_PREFIX,
  DIRECTORY_KEY_TEMPLATES,
  directoryKeys,
  type DirectoryKeyName,
  type DirectoryKeys,
} from './redis/keys';

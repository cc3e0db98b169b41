export { startRedis, pingOnce, freeTcpPort, MissingRedisServerError, type TestRedis, type StartRedisOptions } from './redis-server';
export { waitFor, sleep, type WaitForOptions } from './wait-for';

import { ServerCredentials, type Server } from '@grpc/grpc-js';

/** Binds `server` to a free loopback port and resolves with the port. */
export function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
      if (err) reject(err);
      else resolve(port);
    });
  });
}

/** Next message of a stream, or a rejection naming the wait if none comes in time. */
export async function nextOf<T>(iterator: AsyncIterator<T>, timeoutMs = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const result = await Promise.race([iterator.next(), timeout]);
    if (result.done) throw new Error('stream ended');
    return result.value;
  } finally {
    clearTimeout(timer);
  }
}

import { createHash } from 'node:crypto';
import { MeetedgeError } from '@meetedge/core';
import type Redis from 'ioredis';

/** Replies that mean "not now" (a loading, busy or read-only server), not "wrong command": UNAVAILABLE. */
const UNAVAILABLE_REPLIES = /^(LOADING|BUSY|MASTERDOWN|READONLY|NOREPLICAS|TRYAGAIN|CLUSTERDOWN)\b/;

/** One Lua script: its full source and SHA1, run by EVALSHA with an EVAL fallback. */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /**
   * EVALSHA first (scripts are cached by Redis); on NOSCRIPT, after a Redis
   * restart or on a fresh server, EVAL sends the source once and caches it.
   */
  async run(client: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        return client.eval(this.source, keys.length, ...keys, ...args);
      }
      throw err;
    }
  }
}

/**
 * A thrown value of a store call as a coded error: a command Redis refused is
 * INTERNAL (a bug of ours), anything else (connection lost, timeout, a server
 * loading or read-only) UNAVAILABLE.
 */
export function toStoreError(err: unknown): MeetedgeError {
  if (err instanceof MeetedgeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof Error && err.name === 'ReplyError' && !UNAVAILABLE_REPLIES.test(message)) {
    return new MeetedgeError('INTERNAL', `redis refused a command: ${message}`, undefined, { cause: err });
  }
  return new MeetedgeError('UNAVAILABLE', `redis is not reachable: ${message}`, undefined, { cause: err });
}

/** A reply that must be a list; INTERNAL otherwise. */
export function asArray(reply: unknown): unknown[] {
  if (!Array.isArray(reply)) throw new MeetedgeError('INTERNAL', `expected a list from redis, got ${typeof reply}`);
  return reply;
}

/** QUIT when connected (pending replies arrive first), else drop the socket. */
export async function quitConnection(connection: Redis): Promise<void> {
  if (connection.status === 'ready') {
    try {
      await connection.quit();
      return;
    } catch {
      // fall through: drop the socket
    }
  }
  connection.disconnect();
}

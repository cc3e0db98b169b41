/**
 * The WebSocket the client's sessions (media session, meeting signaling) run
 * on: what they need of it — `ws` and the browser's WebSocket both have it —
 * and the closing both do the same way.
 */

/** What a session needs of a WebSocket. */
export interface SocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed (the WebSocket constants). */
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** Drops the connection without a closing handshake (ws has it; a browser closes instead). */
  terminate?(): void;
  addEventListener<E extends keyof SocketEvents>(type: E, listener: (event: SocketEvents[E]) => void, options?: { once?: boolean }): void;
  removeEventListener<E extends keyof SocketEvents>(type: E, listener: (event: SocketEvents[E]) => void): void;
}

export interface SocketEvents {
  open: unknown;
  /** `data` is a string for a text frame. */
  message: { readonly data: unknown };
  close: { readonly code: number; readonly reason: string };
  /** ws gives a `message`; a browser says nothing about the cause. */
  error: unknown;
}

export const OPEN = 1;
export const CLOSED = 3;

/** Drops the connection at once (no closing handshake where the socket can). */
export function dropSocket(socket: SocketLike): void {
  if (socket.terminate) socket.terminate();
  else socket.close();
}

/** Resolves once the peer closed the socket, or after `timeoutMs` (then drops it). */
export function closedByPeer(socket: SocketLike, timeoutMs = 2000): Promise<void> {
  return new Promise<void>((resolve) => {
    if (socket.readyState === CLOSED) return resolve();
    const timer = setTimeout(() => {
      dropSocket(socket);
      resolve();
    }, timeoutMs);
    socket.addEventListener(
      'close',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

import { createServer } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { MediaClient } from './media-client';

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('MediaClient.join', () => {
  let wss: WebSocketServer | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (wss ? wss.close(resolve) : resolve(undefined)));
    wss = undefined;
  });

  async function server(onJoin: (ws: WebSocket, frame: string) => void): Promise<string> {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss?.once('listening', resolve));
    wss.on('connection', (ws) => ws.once('message', (data) => onJoin(ws, data.toString())));
    return `ws://127.0.0.1:${(wss.address() as { port: number }).port}/v1/media`;
  }

  it('sends the ticket first and resolves on joined', async () => {
    let received = '';
    const url = await server((ws, frame) => {
      received = frame;
      ws.on('message', (data) => {
        if (JSON.parse(data.toString()).type === 'leave') ws.close(1000);
      });
      ws.send(JSON.stringify({ type: 'joined', meetingId: 'm-1', participantId: 'p-1', participants: [], tracks: [], audioSlots: 3 }));
    });
    const client = await MediaClient.join({ url, ticket: 'abc.def' });
    expect(JSON.parse(received)).toEqual({ type: 'join', ticket: 'abc.def' });
    expect(client.participantId).toBe('p-1');
    await client.leave();
  });

  it('rejects with the module\'s coded error when the join is refused', async () => {
    const url = await server((ws) => {
      ws.send(JSON.stringify({ type: 'error', code: 'UNAUTHENTICATED', message: 'join ticket has expired', fatal: true }));
      ws.close(1008);
    });
    await expect(MediaClient.join({ url, ticket: 'abc.def' })).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      message: 'join ticket has expired',
    });
  });

  it('rejects with UNAVAILABLE when nothing listens', async () => {
    const port = await closedPort();
    await expect(MediaClient.join({ url: `ws://127.0.0.1:${port}/v1/media`, ticket: 'abc.def' })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
  });

  it('rejects with UNAVAILABLE when the module never answers', async () => {
    const url = await server(() => undefined);
    await expect(MediaClient.join({ url, ticket: 'abc.def', timeoutMs: 300 })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: 'no answer to join within 300 ms',
    });
  });
});

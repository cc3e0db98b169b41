/**
 * The naive werift forwarder the module is compared with: one werift
 * RTCPeerConnection per client (each on its own UDP socket), every packet
 * received on the publisher's track is cloned and handed to each
 * subscriber's sender with `sendRtp(packet.clone())` — no munging, no
 * keyframe logic, no stats beyond two counters.
 *
 * Signaling, on http://127.0.0.1:$BENCH_PORT: POST /publish and POST
 * /subscribe take `{ sdp }` (the client's offer) and answer `{ sdp }`;
 * GET /stats returns `{ packetsIn, packetsOut, connections }`.
 * Run by the bench: `node --import tsx tools/bench/src/plain-forwarder.ts`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { RTCPeerConnection, RTCRtpSender, RtpPacket } from 'werift';
import { LOOPBACK, gathered, loopbackPeer } from './peers';

const port = Number(process.env.BENCH_PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('BENCH_PORT must be set');

const peers = new Set<RTCPeerConnection>();
const senders = new Set<RTCRtpSender>();
const counters = { packetsIn: 0, packetsOut: 0 };

function forward(packet: RtpPacket): void {
  counters.packetsIn++;
  for (const sender of senders) {
    counters.packetsOut++;
    // sendRtp mutates its packet and keeps it for retransmission: a copy per subscriber.
    void sender.sendRtp(packet.clone()).catch(() => undefined);
  }
}

async function answer(offer: string, role: 'publish' | 'subscribe'): Promise<string> {
  const pc = loopbackPeer();
  peers.add(pc);
  pc.connectionStateChange.subscribe((state) => {
    if (state === 'closed' || state === 'failed') peers.delete(pc);
  });
  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  const transceiver = pc.getTransceivers().find((t) => t.kind === 'video');
  if (!transceiver) throw new Error('the offer has no video section');
  if (role === 'publish') {
    const listened = new Set<object>();
    const listen = (track: { onReceiveRtp: { subscribe(f: (p: RtpPacket) => void): unknown } }) => {
      if (listened.has(track)) return;
      listened.add(track);
      track.onReceiveRtp.subscribe(forward);
    };
    for (const track of transceiver.receiver.tracks) listen(track);
    transceiver.onTrack.subscribe((track) => listen(track));
  } else {
    transceiver.setDirection('sendonly');
    senders.add(transceiver.sender);
  }
  await pc.setLocalDescription(await pc.createAnswer());
  await gathered(pc);
  return pc.localDescription?.sdp ?? '';
}

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function reply(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

const server = createServer((req, res) => {
  void (async () => {
    try {
      if (req.method === 'GET' && req.url === '/stats') return reply(res, 200, { ...counters, connections: peers.size });
      if (req.method === 'POST' && (req.url === '/publish' || req.url === '/subscribe')) {
        const { sdp } = (await body(req)) as { sdp: string };
        return reply(res, 200, { sdp: await answer(sdp, req.url === '/publish' ? 'publish' : 'subscribe') });
      }
      reply(res, 404, { error: 'not found' });
    } catch (err) {
      reply(res, 400, { error: (err as Error).message });
    }
  })();
});

server.listen(port, LOOPBACK);

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  server.close();
  setTimeout(() => process.exit(0), 2000).unref();
  void Promise.allSettled([...peers].map((pc) => pc.close())).then(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

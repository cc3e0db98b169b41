/**
 * One participant as its own process, for the multi-process media test: it
 * joins with the ticket in MEETEDGE_TEST_TICKET, publishes microphone, camera
 * and screen share, receives everyone else, and speaks JSON lines on stdout:
 *   {"event":"ready","participantId":…,"published":{source: trackId}}
 *   {"event":"sent","trackId":…,"hash":…}      for every payload it sends
 *   {"event":"received","trackId":…,"hash":…}  for every payload it receives
 *   {"event":"done"}                           after the last "sent"
 * It sends when told `send` on stdin and leaves on `leave` (or stdin closing).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { MediaClient } from '@meetedge/client';
import type { TrackSource } from '@meetedge/signaling';
import { MediaStreamTrack, RtpHeader, RtpPacket } from 'werift';

const url = process.env['MEETEDGE_TEST_URL'] ?? '';
const ticket = process.env['MEETEDGE_TEST_TICKET'] ?? '';
const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex').slice(0, 16);
const say = (event: object) => process.stdout.write(`${JSON.stringify(event)}\n`);

async function main(): Promise<void> {
  const client = await MediaClient.join({ url, ticket });
  const tracks: Record<TrackSource, MediaStreamTrack> = {
    microphone: new MediaStreamTrack({ kind: 'audio' }),
    camera: new MediaStreamTrack({ kind: 'video' }),
    screen: new MediaStreamTrack({ kind: 'video' }),
  };
  const ids = await client.publish((Object.keys(tracks) as TrackSource[]).map((source) => ({ source, track: tracks[source] })));
  await client.receive();
  await client.connected();
  const listening = new Set<string>();
  const listen = () => {
    for (const remote of client.remote.values()) {
      if (listening.has(remote.mid)) continue;
      listening.add(remote.mid);
      remote.onRtp((packet) => {
        const payload = remote.kind === 'video' ? packet.payload.subarray(4) : packet.payload;
        say({ event: 'received', trackId: remote.trackId ?? null, hash: hash(payload) });
      });
    }
  };
  listen();
  // Slots added by a renegotiation (someone published after us) get listened to as well.
  client.on('message', (m) => {
    if (m.type === 'answer') listen();
  });
  say({ event: 'ready', participantId: client.participantId, published: Object.fromEntries(ids) });

  const send = async () => {
    for (let i = 0; i < 40; i++) {
      for (const [source, track] of Object.entries(tracks) as [TrackSource, MediaStreamTrack][]) {
        const body = randomBytes(source === 'microphone' ? 100 : 800);
        const video = source !== 'microphone';
        // VP8: 1-byte descriptor (S=1) + 3-byte payload header (keyframe on the first packet), then opaque bytes.
        const payload = video ? Buffer.concat([Buffer.from([0x10, i === 0 ? 0x00 : 0x01, 0x00, 0x9d]), body]) : body;
        track.writeRtp(
          new RtpPacket(new RtpHeader({ payloadType: video ? 96 : 111, sequenceNumber: i, timestamp: i * 3000, ssrc: 1, marker: video }), payload),
        );
        say({ event: 'sent', trackId: ids.get(source), hash: hash(body) });
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    say({ event: 'done' });
  };

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line === 'send') void send();
    if (line === 'leave') void client.leave().then(() => process.exit(0));
  });
  lines.on('close', () => void client.leave().then(() => process.exit(0)));
}

main().catch((err: unknown) => {
  process.stderr.write(`participant failed: ${String(err)}\n`);
  process.exit(1);
});

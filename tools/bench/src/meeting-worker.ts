/**
 * The client process of scenario (b) and of the hybrid scenario: a share of
 * the participants of many meetings, each a libs/client MediaClient on its
 * own werift connection (to the setup's media URL, or its own: a module or
 * the cloud MMR) and, when given, the cloud meeting server's signaling
 * (MeetingSignalClient), told where its media is attached. Driven by the
 * bench over the IPC channel (scenario-b.ts, hybrid.ts):
 *   setup     → join and publish (camera; microphone for the meeting's
 *               speakers) → joined
 *   subscribe → (once every process has joined) receive, keep the gallery's
 *               videos, pause the others → ready
 *   send      → start sending stamped packets at the set rates
 *   window → count what is sent and received with a stamp inside it
 *   report → the counts and the latency histogram → report
 *   leave  → every client leaves; the process exits
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { MediaClient, MeetingSignalClient } from '@meetedge/client';
import type { MediaAttachment, TrackInfo } from '@meetedge/signaling';
import { MediaStreamTrack, RtpHeader, RtpPacket, type RTCRtpSender } from 'werift';
import { buildPayload, readStamp } from './payload';
import { clientPeer } from './client-peer';
import { sharedClockMs } from './proc';
import { LatencyHistogram, type HistogramSnapshot } from './stats';

const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

export interface WorkerParticipant {
  meetingId: string;
  participantId: string;
  ticket: string;
  speaker: boolean;
  /** Participant ids whose camera this one keeps in its gallery (the others are paused). */
  gallery: string[];
  /** Where this participant's media session goes (its assignment's media URL); default the setup's URL. */
  mediaUrl?: string;
  /** The meeting signaling to keep beside the media (the cloud meeting server's), and where to say the media is attached. */
  signal?: { url: string; token: string; where: MediaAttachment };
}

export type ToWorker =
  | { type: 'setup'; url: string; participants: WorkerParticipant[] }
  | { type: 'subscribe' }
  | { type: 'send'; videoPps: number; videoPayloadBytes: number; audioPps: number; audioPayloadBytes?: number }
  | { type: 'window'; fromMs: number; toMs: number }
  | { type: 'report' }
  | { type: 'leave' };

export type FromWorker =
  | { type: 'joined'; rejoins: number }
  | { type: 'ready'; rejoins: number }
  | { type: 'failed'; error: string }
  | {
      type: 'report';
      /** Packets sent with a stamp in the window, by track id. */
      sent: Record<string, number>;
      /** Packets received with a stamp in the window, by receiving participant and track id. */
      received: Record<string, Record<string, number>>;
      /** Track ids each participant should receive: its gallery's cameras and the other speakers' microphones. */
      expected: Record<string, string[]>;
      latency: HistogramSnapshot;
      duplicates: number;
      /** Whose each track is that a participant of this process saw (its media server's view, relayed participants included). */
      owners: Record<string, { participantId: string; kind: 'audio' | 'video' }>;
      /** Participants with meeting signaling: the roster they see, and how many of it said where their media is attached. */
      roster: Record<string, { size: number; attached: number }>;
    };

/** Milliseconds comparable across the bench's processes (see sharedClockMs). */
const epochNow = sharedClockMs;

interface Member {
  spec: WorkerParticipant;
  client: MediaClient;
  camera: MediaStreamTrack;
  cameraSender: RTCRtpSender | undefined;
  cameraTrackId: string;
  mic: MediaStreamTrack | undefined;
  micTrackId: string | undefined;
  audioLevelId: number | undefined;
  keyframeDue: boolean;
  videoSeq: number;
  audioSeq: number;
  /** Received stamp sequence numbers inside the window, by track id. */
  seen: Map<string, Set<number>>;
  /** The module ended the session (the member joins again before it subscribes). */
  ended: boolean;
  signal: MeetingSignalClient | undefined;
}

const members: Member[] = [];
const filler = randomBytes(64 * 1024);
const latency = new LatencyHistogram();
let windowFrom = Number.POSITIVE_INFINITY;
let windowTo = Number.NEGATIVE_INFINITY;
const sent = new Map<string, number>();
let duplicates = 0;
let sendTimer: NodeJS.Timeout | undefined;
let leaving = false;
/** Sessions that failed during setup and joined again. */
let rejoins = 0;
let url = '';

function send(message: FromWorker): void {
  process.send?.(message);
}

function inWindow(stampMs: number): boolean {
  return stampMs >= windowFrom && stampMs < windowTo;
}

async function join(setupUrl: string, spec: WorkerParticipant): Promise<Member> {
  const client = await MediaClient.join({ url: spec.mediaUrl ?? setupUrl, ticket: spec.ticket, createPeer: clientPeer, timeoutMs: 60_000 });
  client.on('closed', ({ code, reason }) => {
    if (!leaving) process.stderr.write(`[client ${spec.participantId}] session closed by the module: ${code} ${reason}\n`);
  });
  client.on('refused', (error) => process.stderr.write(`[client ${spec.participantId}] ${error.code}: ${error.message}\n`));
  const camera = new MediaStreamTrack({ kind: 'video' });
  const mic = spec.speaker ? new MediaStreamTrack({ kind: 'audio' }) : undefined;
  const ids = await client.publish([{ source: 'camera', track: camera }, ...(mic ? [{ source: 'microphone' as const, track: mic }] : [])]);
  const transceivers = client.pc.getTransceivers();
  const cameraSender = transceivers.find((t) => t.sender.track === camera)?.sender;
  const audioLevelId = mic ? transceivers.find((t) => t.sender.track === mic)?.headerExtensions.find((e) => e.uri === AUDIO_LEVEL_URI)?.id : undefined;
  const member: Member = {
    spec,
    client,
    camera,
    cameraSender,
    cameraTrackId: ids.get('camera') ?? '',
    mic,
    micTrackId: ids.get('microphone'),
    audioLevelId,
    keyframeDue: true,
    videoSeq: 0,
    audioSeq: 0,
    seen: new Map(),
    ended: false,
    signal: undefined,
  };
  client.on('closed', () => {
    member.ended = true;
  });
  // Connected before the next batch joins (see the batch size in `handle`).
  const closed = new Promise<never>((_, reject) => client.once('closed', ({ reason }) => reject(new Error(`session closed: ${reason}`))));
  try {
    await Promise.race([client.connected(30_000), closed]);
  } catch (err) {
    await client.leave();
    throw err;
  }
  cameraSender?.onPictureLossIndication.subscribe(() => {
    member.keyframeDue = true;
  });
  // As the SDK's joinMeeting: media first, then the meeting's signaling, told where the media went.
  if (spec.signal) {
    try {
      member.signal = await MeetingSignalClient.connect({ url: spec.signal.url, token: spec.signal.token, timeoutMs: 30_000 });
      member.signal.attachMedia(spec.signal.where);
    } catch (err) {
      await client.leave();
      throw err;
    }
  }
  return member;
}

/** After everyone published: receive, keep the gallery, pause the rest, count what arrives. */
async function subscribe(member: Member): Promise<void> {
  const { client, spec } = member;
  await client.receive();
  await client.connected(60_000);
  const gallery = new Set(spec.gallery);
  const pauseOutsideGallery = (track: TrackInfo) => {
    if (track.kind === 'video' && track.participantId !== spec.participantId && !gallery.has(track.participantId)) {
      client.setSubscription(track.trackId, { paused: true });
    }
  };
  for (const track of client.tracks.values()) pauseOutsideGallery(track);
  // Someone who joins again publishes a new track: outside the gallery, it is paused too.
  client.on('message', (m) => {
    if (m.type === 'track-published') pauseOutsideGallery(m.track);
  });
  const listening = new Set<string>();
  const listen = () => {
    for (const remote of client.remote.values()) {
      if (listening.has(remote.mid)) continue;
      listening.add(remote.mid);
      remote.onRtp((packet) => {
        const stamp = readStamp(packet.payload);
        const trackId = remote.trackId;
        if (!stamp || !trackId || !inWindow(stamp.sentAtMs)) return;
        let seen = member.seen.get(trackId);
        if (!seen) {
          seen = new Set();
          member.seen.set(trackId, seen);
        }
        if (seen.has(stamp.seq)) {
          duplicates++;
          return;
        }
        seen.add(stamp.seq);
        latency.add(epochNow() - stamp.sentAtMs);
      });
    }
  };
  listen();
  client.on('message', (m) => {
    if (m.type === 'answer' || m.type === 'slots') listen();
  });
}

function countSent(trackId: string, stampMs: number): void {
  if (inWindow(stampMs)) sent.set(trackId, (sent.get(trackId) ?? 0) + 1);
}

function sendVideo(member: Member, payloadBytes: number): void {
  const now = epochNow();
  const key = member.keyframeDue || member.videoSeq % 60 === 0;
  member.keyframeDue = false;
  const seq = member.videoSeq++;
  const payload = buildPayload(payloadBytes, key, now, seq, filler, seq * 1031);
  const header = new RtpHeader({ payloadType: 96, sequenceNumber: seq & 0xffff, timestamp: Math.floor(now * 90) >>> 0, ssrc: 1, marker: true });
  member.camera.writeRtp(new RtpPacket(header, payload));
  countSent(member.cameraTrackId, now);
}

function sendAudio(member: Member, payloadBytes: number): void {
  if (!member.mic || !member.micTrackId) return;
  const now = epochNow();
  const seq = member.audioSeq++;
  // Opus-sized, stamped like the video (the module never reads past the RTP header for audio).
  const payload = buildPayload(payloadBytes, false, now, seq, filler, seq * 37);
  const header = new RtpHeader({ payloadType: 111, sequenceNumber: seq & 0xffff, timestamp: (seq * 960) >>> 0, ssrc: 2, marker: false });
  if (member.audioLevelId !== undefined) header.extensions = [{ id: member.audioLevelId, payload: Buffer.from([0x80 | 10]) }];
  member.mic.writeRtp(new RtpPacket(header, payload));
  countSent(member.micTrackId, now);
}

/** Paces every member's video and audio on one 10 ms timer, phases spread so packets do not all leave at once. */
function startSending(videoPps: number, audioPps: number, videoPayloadBytes: number, audioPayloadBytes: number): void {
  // A new step's rates replace the last step's.
  if (sendTimer) clearInterval(sendTimer);
  const start = performance.now();
  const videoSent = new Float64Array(members.length);
  const audioSent = new Float64Array(members.length);
  sendTimer = setInterval(() => {
    const elapsedS = (performance.now() - start) / 1000;
    members.forEach((member, i) => {
      const phase = i / members.length;
      const videoDue = Math.floor(elapsedS * videoPps + phase);
      while ((videoSent[i] as number) < videoDue) {
        sendVideo(member, videoPayloadBytes);
        videoSent[i] = (videoSent[i] as number) + 1;
      }
      const audioDue = Math.floor(elapsedS * audioPps + phase);
      while ((audioSent[i] as number) < audioDue) {
        sendAudio(member, audioPayloadBytes);
        audioSent[i] = (audioSent[i] as number) + 1;
      }
    });
  }, 10);
}

function report(): FromWorker {
  const received: Record<string, Record<string, number>> = {};
  const expected: Record<string, string[]> = {};
  const owners: Record<string, { participantId: string; kind: 'audio' | 'video' }> = {};
  const roster: Record<string, { size: number; attached: number }> = {};
  for (const member of members) {
    for (const t of member.client.tracks.values()) owners[t.trackId] = { participantId: t.participantId, kind: t.kind };
    if (member.signal) {
      const entries = [...member.signal.roster.values()];
      roster[member.spec.participantId] = { size: entries.length, attached: entries.filter((e) => e.media !== null).length };
    }
    const self = member.spec.participantId;
    received[self] = Object.fromEntries([...member.seen].map(([trackId, seqs]) => [trackId, seqs.size]));
    const gallery = new Set(member.spec.gallery);
    expected[self] = [...member.client.tracks.values()]
      .filter((t) => t.participantId !== self && (t.kind === 'audio' || gallery.has(t.participantId)))
      .map((t) => t.trackId);
  }
  return { type: 'report', sent: Object.fromEntries(sent), received, expected, latency: latency.toJSON(), duplicates, owners, roster };
}

/** Joins again when a session fails during setup (as a real client would), a few times. */
async function joinWithRetry(url: string, spec: WorkerParticipant): Promise<Member> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await join(url, spec);
    } catch (err) {
      if (attempt >= 3) throw err;
      rejoins++;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

/** Subscribes members[i]; if the module ended its session meanwhile, it joins again first. */
async function subscribeWithRetry(i: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const member = members[i] as Member;
    try {
      if (member.ended) throw new Error('session ended');
      await subscribe(member);
      return;
    } catch (err) {
      if (attempt >= 3) throw err;
      rejoins++;
      await member.client.leave();
      await member.signal?.leave();
      members[i] = await joinWithRetry(url, member.spec);
    }
  }
}

/** Participants joined at once per process: each join is ICE, DTLS and an offer/answer on a shared 2-core machine. */
const JOIN_BATCH = 5;

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'setup':
      url = message.url;
      // Join in small batches, as people arrive.
      for (let i = 0; i < message.participants.length; i += JOIN_BATCH) {
        const batch = message.participants.slice(i, i + JOIN_BATCH);
        members.push(...(await Promise.all(batch.map((p) => joinWithRetry(message.url, p)))));
      }
      send({ type: 'joined', rejoins });
      break;
    case 'subscribe':
      // A session the module ended after it joined (see JOIN_BATCH) joins again first.
      for (let i = 0; i < members.length; i++) {
        const member = members[i] as Member;
        if (!member.ended) continue;
        rejoins++;
        await member.signal?.leave();
        members[i] = await joinWithRetry(url, member.spec);
      }
      for (let i = 0; i < members.length; i += JOIN_BATCH) {
        await Promise.all(Array.from({ length: Math.min(JOIN_BATCH, members.length - i) }, (_, k) => subscribeWithRetry(i + k)));
      }
      send({ type: 'ready', rejoins });
      break;
    case 'send':
      startSending(message.videoPps, message.audioPps, message.videoPayloadBytes, message.audioPayloadBytes ?? 120);
      break;
    case 'window':
      windowFrom = message.fromMs;
      windowTo = message.toMs;
      sent.clear();
      for (const member of members) member.seen.clear();
      latency.reset();
      duplicates = 0;
      break;
    case 'report':
      send(report());
      break;
    case 'leave':
      leaving = true;
      if (sendTimer) clearInterval(sendTimer);
      await Promise.allSettled(members.flatMap((m) => [m.client.leave(), ...(m.signal ? [m.signal.leave()] : [])]));
      process.exit(0);
  }
}

process.on('message', (message: ToWorker) => {
  handle(message).catch((err: unknown) => send({ type: 'failed', error: `${message.type}: ${(err as Error).message}` }));
});

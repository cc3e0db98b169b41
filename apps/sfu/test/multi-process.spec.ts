/**
 * Three participants, each a werift client in its own process, exchange
 * audio, camera and screen share through one module: every payload that
 * arrives is one that was sent, byte for byte, and each participant receives
 * everything of the two others.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { MeetingId, ModuleId, ParticipantId, ReservationId, generateTicketKeys, signTicket } from '@meetedge/core';
import { createLogger, type Service } from '@meetedge/service-kit';
import { MemoryClusterState } from '@meetedge/state';
import { waitFor } from '@meetedge/test-kit';
import { buildApp } from '../src/app';
import { loadSfuConfig } from '../src/config';

const root = path.resolve(__dirname, '../../..');
const keys = generateTicketKeys();

interface Child {
  name: string;
  process: ChildProcess;
  ready?: { participantId: string; published: Record<string, string> };
  /** Every payload it sent has been reported (its "done" line came after its last "sent"). */
  done: boolean;
  sent: Map<string, Set<string>>;
  received: Map<string, string[]>;
  exited: Promise<number | null>;
  stderr: string[];
}

function ticket(participant: string): string {
  const now = Date.now();
  return signTicket(
    {
      ticketId: ReservationId(`r-${participant}`),
      meetingId: MeetingId('m-1'),
      participantId: ParticipantId(participant),
      moduleId: ModuleId('sfu-1'),
      quality: 'SD',
      mode: 'internal-only',
      displayName: participant,
      issuedAt: now,
      expiresAt: now + 60_000,
    },
    keys.privateKey,
  );
}

let app: Service;
let url: string;
const children: Child[] = [];

function start(name: string): Child {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MEETEDGE_')));
  const proc = spawn(process.execPath, ['--import', 'tsx', 'apps/sfu/test/processes/participant.ts'], {
    cwd: root,
    env: { ...base, MEETEDGE_TEST_URL: url, MEETEDGE_TEST_TICKET: ticket(name) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const child: Child = {
    name,
    process: proc,
    done: false,
    sent: new Map(),
    received: new Map(),
    exited: new Promise((resolve) => proc.once('exit', (code) => resolve(code))),
    stderr: [],
  };
  proc.stderr?.on('data', (d: Buffer) => child.stderr.push(d.toString()));
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const event = JSON.parse(line) as { event: string; trackId?: string | null; hash?: string; participantId?: string; published?: Record<string, string> };
    if (event.event === 'done') child.done = true;
    if (event.event === 'ready') child.ready = { participantId: event.participantId ?? '', published: event.published ?? {} };
    if (event.event === 'sent' && event.trackId && event.hash) {
      child.sent.set(event.trackId, (child.sent.get(event.trackId) ?? new Set()).add(event.hash));
    }
    if (event.event === 'received' && event.trackId && event.hash) {
      child.received.set(event.trackId, [...(child.received.get(event.trackId) ?? []), event.hash]);
    }
  });
  children.push(child);
  return child;
}

beforeAll(async () => {
  const config = loadSfuConfig({
    MEETEDGE_MODULE_ID: 'sfu-1',
    MEETEDGE_ZONE_ID: 'hq',
    MEETEDGE_NODE_ID: 'n1',
    MEETEDGE_HTTP_PORT: '0',
    MEETEDGE_STATE: 'memory',
    MEETEDGE_MEDIA_PORT: '0',
    MEETEDGE_CASCADE_PORT: '0',
    MEETEDGE_MEDIA_LISTEN_IP: '127.0.0.1',
    MEETEDGE_TICKET_PUBLIC_KEY: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  });
  app = buildApp(config, { logger: createLogger({ level: 'silent' }), state: new MemoryClusterState(), ownsState: true });
  url = `${(await app.start()).replace('http:', 'ws:')}/v1/media`;
});

afterAll(async () => {
  for (const child of children) {
    if (child.process.exitCode === null) child.process.kill('SIGKILL');
    await child.exited;
  }
  await app.close();
});

it('three participants in three processes exchange audio, camera and screen share intact', async () => {
  const [alice, bob, carol] = ['alice', 'bob', 'carol'].map(start) as [Child, Child, Child];
  const everyone = [alice, bob, carol];
  await waitFor(() => everyone.every((c) => c.ready !== undefined || c.process.exitCode !== null), { timeoutMs: 60_000 });
  for (const c of everyone) expect([c.name, c.ready !== undefined, c.stderr.join('')]).toEqual([c.name, true, '']);
  // Later publishers made the earlier ones renegotiate for more slots; give that a moment to settle by waiting for the module's view.
  await waitFor(async () => (await app.http.inject({ method: 'GET', url: '/v1/stats' })).json().module.tracks === 9, { timeoutMs: 20_000 });
  await new Promise((r) => setTimeout(r, 500));
  for (const c of everyone) c.process.stdin?.write('send\n');

  const tracksOf = (c: Child) => Object.values(c.ready?.published ?? {});
  // A payload can arrive (through the module and the receiver's stdout) before
  // its sender's "sent" line is read from the sender's stdout: two pipes, no
  // order between them. Judge only once every sender has reported all it sent.
  await waitFor(
    () =>
      everyone.every((c) => c.done) &&
      everyone.every((receiver) =>
        everyone
          .filter((sender) => sender !== receiver)
          .flatMap(tracksOf)
          .every((trackId) => (receiver.received.get(trackId)?.length ?? 0) >= 30),
      ),
    { timeoutMs: 60_000, description: 'each participant receiving the others\' tracks' },
  );
  for (const receiver of everyone) {
    // Nothing of its own comes back, and every payload of the others arrives unchanged.
    for (const own of tracksOf(receiver)) expect(receiver.received.get(own)).toBeUndefined();
    for (const sender of everyone.filter((s) => s !== receiver)) {
      for (const trackId of tracksOf(sender)) {
        const sent = sender.sent.get(trackId) ?? new Set();
        const received = receiver.received.get(trackId) ?? [];
        expect([receiver.name, trackId, received.every((h) => sent.has(h))]).toEqual([receiver.name, trackId, true]);
      }
    }
  }
  for (const c of everyone) c.process.stdin?.write('leave\n');
  expect(await Promise.all(everyone.map((c) => c.exited))).toEqual([0, 0, 0]);
  await waitFor(async () => (await app.http.inject({ method: 'GET', url: '/v1/stats' })).json().module.participants === 0);
}, 120_000);

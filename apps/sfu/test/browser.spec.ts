/**
 * The module end to end with a real browser: Debian's Chromium (through
 * playwright-core) runs a plain-JS media-session client (test/browser/client.js)
 * on its native RTCPeerConnection. Page A publishes its fake camera with
 * three simulcast layers; page B receives it through the module, decodes
 * frames, and switches between SD and HD with `subscription` messages.
 *
 * Needs /usr/bin/chromium (`apt-get install -y chromium`; .ci/run installs
 * it on a fresh machine). Without it the suite fails, it does not skip.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeetingId, ModuleId, ParticipantId, ReservationId, generateTicketKeys, signTicket } from '@meetedge/core';
import { createLogger, type Service } from '@meetedge/service-kit';
import { MemoryClusterState } from '@meetedge/state';
import { waitFor } from '@meetedge/test-kit';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildApp } from '../src/app';
import { loadSfuConfig } from '../src/config';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  // Two pages share one headless browser: neither may be throttled as a background tab.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

const keys = generateTicketKeys();
let app: Service;
let wsUrl: string;
let pageServer: Server;
let pageUrl: string;
let profileDir: string;
let context: BrowserContext | undefined;

function ticket(meeting: string, participant: string): string {
  const now = Date.now();
  return signTicket(
    {
      ticketId: ReservationId(`r-${participant}`),
      meetingId: MeetingId(meeting),
      participantId: ParticipantId(participant),
      moduleId: ModuleId('sfu-1'),
      quality: 'HD',
      mode: 'cloud-hybrid',
      displayName: participant,
      issuedAt: now,
      expiresAt: now + 120_000,
    },
    keys.privateKey,
  );
}

interface VideoStats {
  inbound: { mid: string; framesDecoded: number; frameHeight: number; frameWidth: number; keyFramesDecoded: number; bytesReceived: number }[];
  outbound: { rid: string; active: boolean; frameHeight: number; framesEncoded: number; bytesSent: number; targetBitrate: number; qualityLimitationReason: string }[];
  connectionState: string;
}

/** Calls a method of the page's media session (client.js) and returns its (serializable) result. */
async function call<T>(page: Page, method: string, ...args: unknown[]): Promise<T> {
  const result = await page.evaluate(
    ([name, params]) => {
      const harness = (globalThis as unknown as { meetedge: { session: Record<string, (...a: unknown[]) => unknown> } }).meetedge;
      return harness.session[name]?.(...params);
    },
    [method, args] as const,
  );
  return result as T;
}

async function openPage(participant: string): Promise<Page> {
  if (!context) throw new Error('no browser');
  const page = await context.newPage();
  await page.goto(pageUrl);
  await page.evaluate(
    ([url, t]) => (globalThis as unknown as { meetedge: { join(u: string, t: string): Promise<unknown> } }).meetedge.join(url, t),
    [`${wsUrl}/v1/media`, ticket('m-1', participant)] as const,
  );
  return page;
}

/** A serving of the test page and its script, on loopback. */
function servePage(): Promise<Server> {
  const script = readFileSync(join(__dirname, 'browser', 'client.js'), 'utf8');
  const html = '<!doctype html><html><head><meta charset="utf-8"><title>meetedge</title></head><body><script src="/client.js"></script></body></html>';
  const server = createServer((request, response) => {
    if (request.url === '/client.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else if (request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/html' }).end(html);
    } else {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does it)`);
  }
  const config = loadSfuConfig({
    MEETEDGE_MODULE_ID: 'sfu-1',
    MEETEDGE_ZONE_ID: 'hq',
    MEETEDGE_NODE_ID: 'n1',
    MEETEDGE_HTTP_PORT: '0',
    MEETEDGE_STATE: 'memory',
    MEETEDGE_MEDIA_PORT: '0',
    MEETEDGE_MEDIA_LISTEN_IP: '127.0.0.1',
    MEETEDGE_ANNOUNCED_IP: '127.0.0.1',
    MEETEDGE_TICKET_PUBLIC_KEY: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  });
  app = buildApp(config, { logger: createLogger({ level: 'silent' }), state: new MemoryClusterState(), ownsState: true });
  wsUrl = (await app.start()).replace('http:', 'ws:');
  pageServer = await servePage();
  const address = pageServer.address();
  if (!address || typeof address === 'string') throw new Error('page server has no port');
  pageUrl = `http://127.0.0.1:${address.port}/`;
  profileDir = mkdtempSync(join(tmpdir(), 'meetedge-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}, 60_000);

afterAll(async () => {
  await context?.close();
  if (pageServer) await new Promise((resolve) => pageServer.close(resolve));
  await app?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
}, 30_000);

describe('Chromium through the module', () => {
  it('receives a simulcast camera, decodes it, and follows SD/HD subscriptions', async () => {
    const a = await openPage('alice');
    const trackId = await call<string>(a, 'publishCamera');
    const b = await openPage('bob');
    await call(b, 'receive');

    // What B decodes and what A encodes per rid, sampled together; the
    // timeline goes into every timeout message (and to stdout with MEETEDGE_BROWSER_TRACE=1).
    const started = Date.now();
    const timeline: string[] = [];
    const sample = async () => {
      const [rx, tx] = await Promise.all([call<VideoStats>(b, 'videoStats'), call<VideoStats>(a, 'videoStats')]);
      const received = rx.inbound[0];
      const sent = new Map(tx.outbound.map((s) => [s.rid, s]));
      const line = `${Date.now() - started} ms: B ${received ? `${received.frameHeight}p ${received.framesDecoded} frames` : 'nothing'}; A ${tx.outbound
        .map((s) => `${s.rid} ${s.frameHeight}p ${s.framesEncoded} frames ${Math.round((s.targetBitrate ?? 0) / 1000)} kbps (${s.qualityLimitationReason})`)
        .join(', ')}`;
      if (timeline.at(-1)?.replace(/^\d+ ms/, '') !== line.replace(/^\d+ ms/, '')) timeline.push(line);
      if (process.env['MEETEDGE_BROWSER_TRACE']) process.stdout.write(`${line}\n`);
      return { received, sent, height: (rid: string) => sent.get(rid)?.frameHeight ?? 0 };
    };
    const until = <T>(what: string, predicate: () => Promise<T>, timeoutMs = 60_000) =>
      waitFor(predicate, { timeoutMs, intervalMs: 250, description: `${what}; observed:\n${timeline.slice(-12).join('\n')}\n` });

    // B decodes A's camera (it starts on the highest layer Chromium sends yet).
    const first = await until('B decodes frames', async () => {
      const s = await sample();
      return (s.received?.framesDecoded ?? 0) > 0 ? s.received : undefined;
    });
    expect(first.frameHeight).toBeGreaterThan(0);

    // The module sends no REMB (and TWCC is off), so Chromium raises its
    // estimate from receiver reports alone and turns on the top layer only
    // after a while (~20 s on an idle machine). B's default wish is HD: it
    // follows to the top layer.
    let decoded = 0;
    await until(
      'A sends rid f above rid h and B decodes f',
      async () => {
        const s = await sample();
        decoded = s.received?.framesDecoded ?? 0;
        return (s.sent.get('f')?.framesEncoded ?? 0) > 0 && s.height('f') > s.height('h') && s.received?.frameHeight === s.height('f');
      },
      120_000,
    );

    // SD: at most the middle layer.
    await call(b, 'setSubscription', trackId, { quality: 'SD' });
    await until('B decodes rid h after SD', async () => {
      const s = await sample();
      return s.received?.frameHeight === s.height('h') && s.received.framesDecoded > decoded;
    });
    decoded = (await sample()).received?.framesDecoded ?? 0;

    // HD again: back to the top layer.
    await call(b, 'setSubscription', trackId, { quality: 'HD' });
    await until('B decodes rid f after HD', async () => {
      const s = await sample();
      return s.received?.frameHeight === s.height('f') && s.received.framesDecoded > decoded;
    });
  }, 300_000);
});

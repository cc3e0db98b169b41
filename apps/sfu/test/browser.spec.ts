/**
 * The module end to end with a real browser: Debian's Chromium (through
 * playwright-core) runs the client SDK's browser build (libs/client/src/browser,
 * bundled by esbuild into one script that puts it on `window.meetedge`) on its
 * native RTCPeerConnection. Page A publishes its fake camera with three
 * simulcast layers; page B receives it through the module, decodes frames,
 * and switches between SD and HD with `setSubscription`.
 *
 * Needs /usr/bin/chromium (`apt-get install -y chromium`; .ci/run installs
 * it on a fresh machine). Without it the suite fails, it does not skip.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Sdk from '@meetedge/client/browser';
import { MeetingId, ModuleId, ParticipantId, ReservationId, generateTicketKeys, signTicket } from '@meetedge/core';
import { createLogger, type Service } from '@meetedge/service-kit';
import { MemoryClusterState } from '@meetedge/state';
import { waitFor } from '@meetedge/test-kit';
import { build } from 'esbuild';
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

/** What the test page has: the SDK bundle, and the client the page joined with. */
declare global {
  interface Window {
    meetedge: typeof Sdk;
    client: Sdk.MediaClient;
  }
}

interface VideoStats {
  inbound: { mid: string; framesDecoded: number; frameHeight: number; frameWidth: number; keyFramesDecoded: number; bytesReceived: number }[];
  outbound: { rid: string; active: boolean; frameHeight: number; framesEncoded: number; bytesSent: number; targetBitrate: number; qualityLimitationReason: string }[];
  connectionState: string;
}

/** The inbound-rtp (received) and outbound-rtp (sent, one per rid) video stats of the page's client. */
function videoStats(page: Page): Promise<VideoStats> {
  return page.evaluate(async () => {
    const stats: VideoStats = { inbound: [], outbound: [], connectionState: window.client.pc.connectionState };
    (await window.client.stats()).forEach((s: RTCStats & { kind?: string }) => {
      if (s.kind !== 'video') return;
      if (s.type === 'inbound-rtp') {
        const r = s as RTCInboundRtpStreamStats;
        stats.inbound.push({
          mid: r.mid ?? '',
          framesDecoded: r.framesDecoded ?? 0,
          frameHeight: r.frameHeight ?? 0,
          frameWidth: r.frameWidth ?? 0,
          keyFramesDecoded: r.keyFramesDecoded ?? 0,
          bytesReceived: r.bytesReceived ?? 0,
        });
      }
      if (s.type === 'outbound-rtp') {
        const r = s as RTCOutboundRtpStreamStats;
        stats.outbound.push({
          rid: r.rid ?? '',
          active: r.active ?? false,
          frameHeight: r.frameHeight ?? 0,
          framesEncoded: r.framesEncoded ?? 0,
          bytesSent: r.bytesSent ?? 0,
          targetBitrate: r.targetBitrate ?? 0,
          qualityLimitationReason: r.qualityLimitationReason ?? '',
        });
      }
    });
    return stats;
  });
}

/** A page that has joined meeting m-1 as `participant` with the SDK (`window.client`). */
async function openPage(participant: string): Promise<Page> {
  if (!context) throw new Error('no browser');
  const page = await context.newPage();
  await page.goto(pageUrl);
  await page.evaluate(
    async ([url, t]) => {
      window.client = await window.meetedge.MediaClient.join({ url, ticket: t });
    },
    [`${wsUrl}/v1/media`, ticket('m-1', participant)] as const,
  );
  return page;
}

/**
 * The browser SDK as a page loads it: one IIFE that sets `window.meetedge`.
 * @meetedge/core's ticket signing (node:crypto) is not part of it: core has
 * no side effects, so what the SDK does not use is dropped, and a Node import
 * left in the bundle fails here rather than in the page.
 */
async function bundleSdk(): Promise<string> {
  const result = await build({
    absWorkingDir: join(__dirname, '..', '..', '..'),
    entryPoints: ['libs/client/src/browser/index.ts'],
    tsconfig: 'tsconfig.base.json',
    bundle: true,
    format: 'iife',
    globalName: 'meetedge',
    platform: 'browser',
    target: 'chrome110',
    external: ['node:*'],
    write: false,
    metafile: true,
    logLevel: 'warning',
  });
  const imports = Object.values(result.metafile.outputs).flatMap((output) => output.imports.map((i) => i.path));
  if (imports.length > 0) throw new Error(`the browser bundle still imports ${imports.join(', ')}`);
  const [script] = result.outputFiles;
  if (!script) throw new Error('esbuild wrote no bundle');
  return script.text;
}

/** A serving of the test page and the SDK bundle, on loopback. */
function servePage(script: string): Promise<Server> {
  const html = '<!doctype html><html><head><meta charset="utf-8"><title>meetedge</title></head><body><script src="/meetedge.js"></script></body></html>';
  const server = createServer((request, response) => {
    if (request.url === '/meetedge.js') {
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
    MEETEDGE_CASCADE_PORT: '0',
    MEETEDGE_MEDIA_LISTEN_IP: '127.0.0.1',
    MEETEDGE_ANNOUNCED_IP: '127.0.0.1',
    MEETEDGE_TICKET_PUBLIC_KEY: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  });
  app = buildApp(config, { logger: createLogger({ level: 'silent' }), state: new MemoryClusterState(), ownsState: true });
  wsUrl = (await app.start()).replace('http:', 'ws:');
  pageServer = await servePage(await bundleSdk());
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
    const trackId = await a.evaluate(async () => {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 15 } },
      });
      const [camera] = stream.getVideoTracks();
      if (!camera) throw new Error('no fake camera');
      const ids = await window.client.publish([{ source: 'camera', track: camera, simulcast: true }]);
      const id = ids.get('camera');
      if (!id) throw new Error('the module gave the camera no track id');
      return id;
    });
    const b = await openPage('bob');
    // B offers a slot for A's camera and plays what arrives in it, as a page would.
    const slots = await b.evaluate(async () => {
      await window.client.receive();
      const video = [...window.client.remote.values()].filter((remote) => remote.kind === 'video');
      for (const remote of video) {
        const element = document.createElement('video');
        Object.assign(element, { muted: true, autoplay: true, playsInline: true, srcObject: new MediaStream([remote.track]) });
        element.dataset['mid'] = remote.mid;
        document.body.append(element);
      }
      return video.map((remote) => ({ trackId: remote.trackId, kind: remote.track.kind, state: remote.track.readyState }));
    });
    expect(slots).toEqual([{ trackId, kind: 'video', state: 'live' }]);
    await Promise.all([a, b].map((page) => page.evaluate(() => window.client.connected(20_000))));

    // What B decodes and what A encodes per rid, sampled together; the
    // timeline goes into every timeout message (and to stdout with MEETEDGE_BROWSER_TRACE=1).
    const started = Date.now();
    const timeline: string[] = [];
    const sample = async () => {
      const [rx, tx] = await Promise.all([videoStats(b), videoStats(a)]);
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
    const subscribe = (quality: 'SD' | 'HD') => b.evaluate(([id, q]) => window.client.setSubscription(id, { quality: q }), [trackId, quality] as const);
    await subscribe('SD');
    await until('B decodes rid h after SD', async () => {
      const s = await sample();
      return s.received?.frameHeight === s.height('h') && s.received.framesDecoded > decoded;
    });
    decoded = (await sample()).received?.framesDecoded ?? 0;

    // HD again: back to the top layer.
    await subscribe('HD');
    await until('B decodes rid f after HD', async () => {
      const s = await sample();
      return s.received?.frameHeight === s.height('f') && s.received.framesDecoded > decoded;
    });

    // Leaving closes the session and the peer connection.
    const left = await Promise.all(
      [a, b].map((page) =>
        page.evaluate(async () => {
          await window.client.leave();
          return window.client.pc.connectionState;
        }),
      ),
    );
    expect(left).toEqual(['closed', 'closed']);
  }, 300_000);
});

import { joinMeeting, moduleSignalingUrl, type Assignment, type JoinAnswer } from './join';

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

function fakeControlPlane(zcp: (url: string) => Response | Promise<Response>, mode: JoinAnswer['mode'] = 'cloud-hybrid') {
  const asked: string[] = [];
  const fetch = (async (url: string) => {
    asked.push(url);
    if (url.endsWith('/v1/sign-in')) return json({ accessToken: 'token-1' });
    if (url.endsWith('/join')) {
      return json({
        meetingId: 'm-1',
        topic: 'T',
        mode,
        e2ee: false,
        defaultQuality: 'SD',
        signalingUrl: 'ws://cloud/v1/meetings/m-1/signal',
        cloudMmrUrl: 'ws://cloud-mmr/v1/media',
        zones: [
          { id: 'hq', name: 'HQ', zcpUrls: ['http://zcp-a', 'http://zcp-b'] },
          { id: 'lab', name: 'Lab', zcpUrls: ['http://zcp-c'] },
        ],
      });
    }
    // Zone hq is nearer than lab; in hq, zcp-a answers probes faster than zcp-b.
    if (url.endsWith('/v1/probe')) {
      if (url.startsWith('http://zcp-b')) await new Promise((r) => setTimeout(r, 20));
      if (url.startsWith('http://zcp-c')) await new Promise((r) => setTimeout(r, 60));
      return json({});
    }
    return zcp(url);
  }) as typeof globalThis.fetch;
  return { fetch, asked };
}

const assignment = (moduleId: string, cloud = false): Assignment => ({ mode: 'cloud-hybrid', cloud, moduleId, mediaUrl: `ws://${moduleId}/v1/media`, ticket: 't', expiresAt: 0 });
const attached: unknown[] = [];
const signals: { url: string; token: string }[] = [];
const open = {
  openMedia: async (url: string, ticket: string) => ({ url, ticket }),
  openSignal: async (url: string, token: string) => {
    signals.push({ url, token });
    return { attachMedia: (where: unknown) => attached.push(where) };
  },
};

describe('moduleSignalingUrl', () => {
  it("puts the meeting's signaling beside the module's media session", () => {
    expect(moduleSignalingUrl('wss://sfu-1.corp:8443/v1/media', 'm 1')).toBe('wss://sfu-1.corp:8443/v1/meetings/m%201/signal');
    expect(moduleSignalingUrl('ws://10.0.0.5:8100/edge/v1/media', 'm-2')).toBe('ws://10.0.0.5:8100/edge/v1/meetings/m-2/signal');
  });
});

describe('joinMeeting', () => {
  it("tries the zone's next ZCP when one does not answer", async () => {
    const { fetch, asked } = fakeControlPlane((url) => {
      if (url.startsWith('http://zcp-a')) throw new TypeError('fetch failed');
      return json(assignment('sfu-b'));
    });
    const joined = await joinMeeting({ controlPlaneUrl: 'http://cp', email: 'a@b.example', password: 'pw', meetingId: 'm-1', fetch, probeSamples: 1, ...open });
    expect(joined.assignment.moduleId).toBe('sfu-b');
    expect(asked.filter((u) => u.endsWith('/v1/assign'))).toEqual(['http://zcp-a/v1/assign', 'http://zcp-b/v1/assign']);
    expect(joined.media).toEqual({ url: 'ws://sfu-b/v1/media', ticket: 't' });
    // A cloud-hybrid meeting's signaling is the cloud meeting server's, with the access token.
    expect(signals.at(-1)).toEqual({ url: 'ws://cloud/v1/meetings/m-1/signal', token: 'token-1' });
    expect(attached.at(-1)).toEqual({ kind: 'module', moduleId: 'sfu-b' });
  });

  it('goes to the next zone when a zone refuses (no room for an internal-only meeting)', async () => {
    const { fetch, asked } = fakeControlPlane((url) => {
      if (url.startsWith('http://zcp-c')) return json(assignment('sfu-c'));
      return json({ error: { code: 'CAPACITY_EXCEEDED', message: 'zone hq has no room for this internal-only meeting' } }, 503);
    }, 'internal-only');
    const joined = await joinMeeting({ controlPlaneUrl: 'http://cp', email: 'a@b.example', password: 'pw', meetingId: 'm-1', fetch, probeSamples: 1, ...open });
    expect(joined.assignment.moduleId).toBe('sfu-c');
    // The refusing zone's second ZCP is not asked: it would say the same.
    expect(asked.filter((u) => u.endsWith('/v1/assign'))).toEqual(['http://zcp-a/v1/assign', 'http://zcp-c/v1/assign']);
    // An internal-only meeting's signaling is the module's, with the ticket: nothing goes to the cloud.
    expect(joined.signal).toBeDefined();
    expect(signals.at(-1)).toEqual({ url: 'ws://sfu-c/v1/meetings/m-1/signal', token: 't' });
    expect(asked.some((u) => u.includes('cloud'))).toBe(false);
  });

  it('says where media went when the zone sent it to the cloud, and fails with the last refusal when nothing places', async () => {
    const cloud = fakeControlPlane(() => json(assignment('cloud-mmr-1', true)));
    const joined = await joinMeeting({ controlPlaneUrl: 'http://cp', email: 'a@b.example', password: 'pw', meetingId: 'm-1', fetch: cloud.fetch, probeSamples: 1, ...open });
    expect([joined.attachedTo, joined.status]).toEqual(['cloud', 'Your media is attached to the cloud.']);
    expect(attached.at(-1)).toEqual({ kind: 'cloud' });

    const full = fakeControlPlane(() => json({ error: { code: 'CAPACITY_EXCEEDED', message: 'zone has no room' } }, 503), 'internal-only');
    await expect(
      joinMeeting({ controlPlaneUrl: 'http://cp', email: 'a@b.example', password: 'pw', meetingId: 'm-1', fetch: full.fetch, probeSamples: 1, ...open }),
    ).rejects.toMatchObject({ code: 'CAPACITY_EXCEEDED', message: 'zone has no room' });
  });
});

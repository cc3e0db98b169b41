import { parseHybridArgs } from './hybrid';
import { bandwidthDelta, checkLinks, expectedLinks, totalsOf, whoHeardWhom, type Bandwidth, type ClientReport, type LinkStat, type Placement, type ServerStats } from './hybrid-report';

const traffic = { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0 };
function bandwidth(externalBytes = 0, wouldHaveLeftBytes = 0, eastWestLinks = 0): Bandwidth {
  return {
    client: { ...traffic },
    cascade: { 'north-south': { ...traffic, links: 0, streams: 0 }, 'east-west': { ...traffic, links: eastWestLinks, streams: 0 } },
    externalStreams: 0,
    externalBytes,
    wouldHaveLeftBytes,
    savedBytes: Math.max(0, wouldHaveLeftBytes - externalBytes),
  };
}
const link = (linkId: string, meetingId: string, peerServerId: string, scope: LinkStat['scope'] = 'north-south'): LinkStat => ({
  ...traffic,
  linkId,
  meetingId,
  peerServerId,
  role: 'opener',
  scope,
  streamsOut: 6,
  streamsIn: 2,
});
const server = (links: LinkStat[], eastWestLinks = 0): ServerStats => ({ module: bandwidth(0, 0, eastWestLinks), meetings: [], links });
const at = (meetingId: string, participantId: string, serverId: string): Placement => ({ meetingId, participantId, serverId, cloud: serverId === 'cloud' });

describe('hybrid scenario', () => {
  it('takes its options as "--name value" and "--name=value", with the defaults of the seeds\' example at small scale', () => {
    expect(parseHybridArgs(['--scenario', 'hybrid'])).toEqual({
      meetings: 25,
      inside: 3,
      guests: 1,
      modules: 2,
      workers: 3,
      audioPps: 50,
      audioBytes: 160,
      videoPps: 10,
      videoBytes: 400,
      seconds: 20,
      maxMinutes: 10,
      out: undefined,
    });
    const args = parseHybridArgs(['--meetings=3', '--guests', '0', '--out=tmp/h.json']);
    expect([args.meetings, args.guests, args.out]).toEqual([3, 0, 'tmp/h.json']);
    expect(() => parseHybridArgs(['--meetings', 'x'])).toThrow('invalid number');
    expect(() => parseHybridArgs(['--audio-bytes', '10'])).toThrow('20–1200');
    expect(() => parseHybridArgs(['--meetings', '300', '--inside', '3'])).toThrow('900 inside participants do not fit 2 modules × 400 units');
  });

  it('expects a link for each module of a meeting with someone on the cloud MMR or on a second module, none otherwise', () => {
    const expected = expectedLinks([
      at('m1', 'a', 'sfu-1'), at('m1', 'b', 'sfu-1'), at('m1', 'g', 'cloud'), // a guest: sfu-1 links
      at('m2', 'c', 'sfu-2'), at('m2', 'd', 'sfu-2'), // all on one module: no link
      at('m3', 'e', 'sfu-1'), at('m3', 'f', 'sfu-2'), // two modules: both link
    ]);
    expect(Object.fromEntries([...expected].map(([k, v]) => [k, [...v].sort()]))).toEqual({ 'sfu-1': ['m1', 'm3'], 'sfu-2': ['m3'] });
  });

  it('checks one link per module and meeting, to the cloud MMR, with its other end there', () => {
    const expected = new Map([['sfu-1', new Set(['m1', 'm3'])], ['sfu-2', new Set(['m3'])]]);
    const good = { 'sfu-1': server([link('l1', 'm1', 'cloud-mmr-1'), link('l3', 'm3', 'cloud-mmr-1')]), 'sfu-2': server([link('l4', 'm3', 'cloud-mmr-1')]) };
    const cloud = server([link('l1', 'm1', 'sfu-1'), link('l3', 'm3', 'sfu-1'), link('l4', 'm3', 'sfu-2')]);
    expect(checkLinks(good, cloud, 'cloud-mmr-1', expected)).toEqual({ oneLinkPerMeetingPerModule: true, noModuleToModuleLink: true, cloudHoldsEveryLink: true, problems: [] });

    const twice = { ...good, 'sfu-2': server([link('l4', 'm3', 'cloud-mmr-1'), link('l5', 'm3', 'cloud-mmr-1')]) };
    const r1 = checkLinks(twice, cloud, 'cloud-mmr-1', expected);
    expect([r1.oneLinkPerMeetingPerModule, r1.cloudHoldsEveryLink]).toEqual([false, false]);
    expect(r1.problems[0]).toBe('sfu-2: 2 links for meeting m3, expected 1');

    const sideways = { ...good, 'sfu-2': server([link('l4', 'm3', 'sfu-1', 'east-west')], 1) };
    const r2 = checkLinks(sideways, cloud, 'cloud-mmr-1', expected);
    expect(r2.noModuleToModuleLink).toBe(false);
    expect(r2.problems).toContain('sfu-2: link l4 of meeting m3 goes to sfu-1 (east-west)');

    const missing = { ...good, 'sfu-1': server([link('l1', 'm1', 'cloud-mmr-1')]) };
    expect(checkLinks(missing, cloud, 'cloud-mmr-1', expected).problems[0]).toBe('sfu-1: 0 links for meeting m3, expected 1');
  });

  it('sums the modules against the no-module case: the saving net, the ratio, the share', () => {
    expect(totalsOf([bandwidth(100, 300), bandwidth(200, 600)])).toEqual({ externalBytes: 300, wouldHaveLeftBytes: 900, savedBytes: 600, ratio: 3, savedPercent: (600 / 900) * 100 });
    // A module whose link costs more than its participants would have sent counts against the others.
    expect(totalsOf([bandwidth(500, 100), bandwidth(100, 300)]).savedBytes).toBe(0);
    expect(totalsOf([]).ratio).toBeNaN();
    expect(bandwidthDelta(bandwidth(100, 300), bandwidth(150, 500))).toEqual({ externalBytes: 50, wouldHaveLeftBytes: 200, savedBytes: 150 });
  });

  it('finds who heard whom, across the link, and counts the inside streams', () => {
    const placements = [at('m1', 'a', 'sfu-1'), at('m1', 'b', 'sfu-1'), at('m1', 'g', 'cloud')];
    const owners: ClientReport['owners'] = {
      ta: { participantId: 'a', kind: 'audio' }, va: { participantId: 'a', kind: 'video' },
      tb: { participantId: 'b', kind: 'audio' }, vb: { participantId: 'b', kind: 'video' },
      tg: { participantId: 'g', kind: 'audio' }, vg: { participantId: 'g', kind: 'video' },
    };
    const roster = { a: { size: 3, attached: 3 }, b: { size: 3, attached: 3 }, g: { size: 3, attached: 3 } };
    const all: ClientReport = { owners, roster, received: { a: { tb: 5, vb: 5, tg: 5, vg: 5 }, b: { ta: 5, va: 5, tg: 5, vg: 5 }, g: { ta: 5, va: 5, tb: 5, vb: 5 } } };
    const heard = whoHeardWhom(placements, [all], 3);
    expect(heard).toMatchObject({ everyoneHeardEveryone: true, acrossTheLink: true, rosterComplete: true, missing: [] });
    // Without modules each inside participant sends its 2 streams and receives 4.
    expect(heard.insideStreams).toEqual({ published: 4, received: 8, participants: 2 });

    const deaf: ClientReport = { owners, roster: { ...roster, g: { size: 3, attached: 2 } }, received: { ...all.received, g: { ta: 5, va: 5, vb: 5 } } };
    const r = whoHeardWhom(placements, [deaf], 3);
    expect(r).toMatchObject({ everyoneHeardEveryone: false, acrossTheLink: false, rosterComplete: false, missing: ['g ← b: audio'] });
    // Beyond the audio slots only video is required from each.
    expect(whoHeardWhom(placements, [deaf], 1).missing).toEqual([]);
  });
});

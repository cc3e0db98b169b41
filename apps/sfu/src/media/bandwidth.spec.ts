import { addBandwidth, bandwidthOf, zeroBandwidth, zeroMeetingTraffic, type MeetingTraffic } from './bandwidth';

/** A meeting's traffic: client bytes in/out, north-south bytes in/out and streams, east-west bytes in/out. */
function traffic(client: [number, number], northSouth: [number, number, number], eastWest: [number, number] = [0, 0]): MeetingTraffic {
  const t = zeroMeetingTraffic();
  [t.client.bytesIn, t.client.bytesOut] = client;
  const ns = t.cascade['north-south'];
  [ns.bytesIn, ns.bytesOut, ns.streams] = northSouth;
  ns.links = northSouth[2] > 0 ? 1 : 0;
  [t.cascade['east-west'].bytesIn, t.cascade['east-west'].bytesOut] = eastWest;
  return t;
}

describe('bandwidthOf', () => {
  it('a cloud-hybrid meeting on a module: client bytes would have left, north-south bytes did, the saving is the difference', () => {
    const b = bandwidthOf('edge', 'cloud-hybrid', traffic([4000, 12_000], [3000, 1000, 2]));
    expect(b).toMatchObject({ externalStreams: 2, externalBytes: 4000, wouldHaveLeftBytes: 16_000, savedBytes: 12_000 });
  });

  it('a saving is never negative: a link that costs more than the participants would have sent saves nothing', () => {
    const b = bandwidthOf('edge', 'cloud-hybrid', traffic([100, 200], [5000, 100, 6]));
    expect(b).toMatchObject({ externalBytes: 5100, wouldHaveLeftBytes: 300, savedBytes: 0 });
  });

  it('an internal-only meeting: east-west bytes are counted as link traffic, nothing external, nothing would have left', () => {
    const b = bandwidthOf('edge', 'internal-only', traffic([4000, 4000], [0, 0, 0], [700, 900]));
    expect(b).toMatchObject({ externalStreams: 0, externalBytes: 0, wouldHaveLeftBytes: 0, savedBytes: 0 });
    expect(b.cascade['east-west']).toMatchObject({ bytesIn: 700, bytesOut: 900 });
  });

  it('on the cloud MMR links are external and its own clients are no saving', () => {
    const b = bandwidthOf('cloud', 'cloud-hybrid', traffic([4000, 4000], [1000, 3000, 2]));
    expect(b).toMatchObject({ externalStreams: 2, externalBytes: 4000, wouldHaveLeftBytes: 0, savedBytes: 0 });
  });

  it('copies the traffic: later packets do not change a figure already read', () => {
    const t = traffic([10, 20], [30, 40, 1]);
    const b = bandwidthOf('edge', 'cloud-hybrid', t);
    t.client.bytesIn += 1000;
    t.cascade['north-south'].bytesIn += 1000;
    expect([b.client.bytesIn, b.cascade['north-south'].bytesIn]).toEqual([10, 30]);
  });
});

describe('addBandwidth', () => {
  it('sums meetings and works the saving out again from the sums (net over meetings)', () => {
    const total = zeroBandwidth();
    addBandwidth(total, bandwidthOf('edge', 'cloud-hybrid', traffic([4000, 12_000], [3000, 1000, 2])));
    addBandwidth(total, bandwidthOf('edge', 'cloud-hybrid', traffic([100, 200], [5000, 100, 6])));
    addBandwidth(total, bandwidthOf('edge', 'internal-only', traffic([50, 50], [0, 0, 0], [70, 90])));
    expect(total).toMatchObject({ externalStreams: 8, externalBytes: 9100, wouldHaveLeftBytes: 16_300, savedBytes: 7200 });
    expect(total.client).toMatchObject({ bytesIn: 4150, bytesOut: 12_250 });
    expect(total.cascade['north-south']).toMatchObject({ bytesIn: 8000, bytesOut: 1100, links: 2, streams: 8 });
    expect(total.cascade['east-west']).toMatchObject({ bytesIn: 70, bytesOut: 90, links: 0 });
  });
});

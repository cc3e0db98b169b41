import { BitrateMeter, LayerSelector, type SimulcastLayer, spatialIndexOfRid } from './layers';

const q: SimulcastLayer = { spatial: 0, rid: 'q', bitrateBps: 150_000 };
const h: SimulcastLayer = { spatial: 1, rid: 'h', bitrateBps: 500_000 };
const f: SimulcastLayer = { spatial: 2, rid: 'f', bitrateBps: 1_500_000 };
const three = [f, q, h]; // any order

describe('spatialIndexOfRid', () => {
  it('maps browser rids to spatial indexes', () => {
    expect(['q', 'h', 'f', 'x'].map(spatialIndexOfRid)).toEqual([0, 1, 2, -1]);
  });
});

describe('LayerSelector: what the subscriber asked for', () => {
  it('HD starts at the top layer, with a keyframe request', () => {
    const s = new LayerSelector({ quality: 'HD' });
    expect(s.setLayers(three, 0)).toEqual({ from: -1, to: 2, reason: 'start', requestKeyframe: true });
    expect(s.target).toBe(2);
  });

  it('SD gets at most the middle layer', () => {
    const s = new LayerSelector({ quality: 'SD' });
    expect(s.setLayers(three, 0)?.to).toBe(1);
    expect(s.wanted).toBe('SD');
  });

  it('uses frame heights when known (SD ≤ 360p, HD ≤ 720p)', () => {
    const s = new LayerSelector({ quality: 'SD' });
    const layers = [
      { spatial: 0, height: 360, bitrateBps: 400_000 },
      { spatial: 1, height: 720, bitrateBps: 1_200_000 },
    ];
    expect(s.setLayers(layers, 0)?.to).toBe(0);
    const hd = new LayerSelector({ quality: 'HD' });
    expect(hd.setLayers([...layers, { spatial: 2, height: 1080, bitrateBps: 3e6 }], 0)?.to).toBe(1);
  });

  it('gives the lowest layer when the wish allows none', () => {
    const s = new LayerSelector({ quality: 'SD' });
    expect(s.setLayers([{ spatial: 2, height: 720, bitrateBps: 1e6 }], 0)?.to).toBe(2);
  });

  it('follows SD/HD changes at once, both ways', () => {
    const s = new LayerSelector({ quality: 'HD' });
    s.setLayers(three, 0);
    expect(s.setQuality('SD', 10)).toEqual({ from: 2, to: 1, reason: 'quality', requestKeyframe: true });
    expect(s.setQuality('SD', 20)).toBeUndefined();
    expect(s.setQuality('HD', 30)).toMatchObject({ from: 1, to: 2, reason: 'quality' });
  });

  it('pauses and resumes', () => {
    const s = new LayerSelector();
    s.setLayers(three, 0);
    expect(s.pause(10)).toEqual({ from: 2, to: -1, reason: 'pause', requestKeyframe: false });
    expect(s.setLayers(three, 20)).toBeUndefined();
    expect(s.resume(30)).toEqual({ from: -1, to: 2, reason: 'resume', requestKeyframe: true });
    expect(s.resume(40)).toBeUndefined();
  });
});

describe('LayerSelector: what the publisher sends', () => {
  it('waits for layers, and drops to none when all stop', () => {
    const s = new LayerSelector();
    expect(s.update(0)).toBeUndefined();
    expect(s.setLayers([{ ...q, bitrateBps: 0 }], 0)).toBeUndefined();
    expect(s.setLayers([q], 10)?.to).toBe(0);
    expect(s.setLayers([{ ...q, bitrateBps: 0 }], 20)).toMatchObject({ to: -1, reason: 'layers' });
  });

  it('moves off a layer the publisher stopped sending, and back up later by probing', () => {
    const s = new LayerSelector({ upgradeHoldMs: 3000 });
    s.setLayers(three, 0);
    expect(s.setLayers([q, h, { ...f, bitrateBps: 0 }], 1000)).toMatchObject({ from: 2, to: 1, reason: 'layers' });
    expect(s.setLayers(three, 2000)).toBeUndefined(); // within the hold time
    expect(s.update(4000)).toMatchObject({ from: 1, to: 2, reason: 'probe', requestKeyframe: true });
  });
});

describe('LayerSelector: congestion', () => {
  it('steps down one layer on loss above 10 %, at most once per downgrade hold', () => {
    const s = new LayerSelector({ downgradeHoldMs: 1000 });
    s.setLayers(three, 0);
    expect(s.onLoss(0.1, 100)).toBeUndefined(); // exactly 10 % is not above
    expect(s.onLoss(0.15, 200)).toEqual({ from: 2, to: 1, reason: 'congestion', requestKeyframe: true });
    expect(s.onLoss(0.2, 700)).toBeUndefined();
    expect(s.onLoss(0.2, 1200)).toMatchObject({ from: 1, to: 0, reason: 'congestion' });
    expect(s.onLoss(0.5, 3000)).toBeUndefined(); // nothing below the lowest
    expect(s.target).toBe(0);
  });

  it('steps down to what fits when the layer bitrate exceeds the estimate', () => {
    const s = new LayerSelector({ headroom: 0.9 });
    s.setLayers(three, 0);
    expect(s.onBandwidthEstimate(1_600_000, 10)).toBeUndefined();
    expect(s.onBandwidthEstimate(1_400_000, 20)).toEqual({ from: 2, to: 1, reason: 'bandwidth', requestKeyframe: true });
    expect(s.onBandwidthEstimate(200_000, 30)).toMatchObject({ from: 1, to: 0, reason: 'bandwidth' });
  });

  it('skips a layer that is off when stepping down for bandwidth', () => {
    const s = new LayerSelector();
    s.setLayers([q, { ...h, bitrateBps: 0 }, f], 0);
    expect(s.onBandwidthEstimate(1_000_000, 10)).toMatchObject({ from: 2, to: 0 });
  });

  it('starts at what the estimate allows', () => {
    const s = new LayerSelector({ headroom: 0.9 });
    s.onBandwidthEstimate(600_000, 0);
    expect(s.setLayers(three, 0)?.to).toBe(1); // 500k ≤ 540k
    const tight = new LayerSelector();
    tight.onBandwidthEstimate(50_000, 0);
    expect(tight.setLayers(three, 0)?.to).toBe(0); // nothing fits: the lowest
  });

  it('upgrades one layer at a time, only after a calm hold and only into what fits', () => {
    const s = new LayerSelector({ upgradeHoldMs: 3000, headroom: 0.9 });
    s.setLayers(three, 0);
    s.onLoss(0.3, 0); // → 1
    s.onLoss(0.3, 1000); // → 0
    expect(s.target).toBe(0);
    s.onLoss(0.01, 2000);
    expect(s.update(3999)).toBeUndefined(); // 3 s since the last congestion (1000) not yet over
    expect(s.update(4000)).toMatchObject({ from: 0, to: 1, reason: 'probe' });
    expect(s.update(5000)).toBeUndefined(); // hold since the last change
    s.onBandwidthEstimate(1_500_000, 6000); // f needs 1.5M; 0.9 × 1.5M is not enough
    expect(s.update(8000)).toBeUndefined();
    expect(s.onBandwidthEstimate(1_700_000, 8000)).toMatchObject({ from: 1, to: 2, reason: 'probe' });
  });

  it('does not upgrade while loss is above the upgrade limit', () => {
    const s = new LayerSelector({ upgradeMaxLoss: 0.02 });
    s.setLayers(three, 0);
    s.onLoss(0.2, 0);
    s.onLoss(0.05, 100);
    expect(s.update(10_000)).toBeUndefined();
    expect(s.onLoss(0.0, 10_000)).toMatchObject({ to: 2, reason: 'probe' });
  });
});

describe('BitrateMeter', () => {
  it('measures bits per second over its window', () => {
    const m = new BitrateMeter(1000, 10);
    for (let t = 0; t < 1000; t += 10) m.add(1000, t); // 100 kB in 1 s
    expect(m.bitrateBps(999)).toBe(800_000);
  });

  it('forgets what left the window', () => {
    const m = new BitrateMeter(1000, 10);
    for (let t = 0; t < 1000; t += 10) m.add(1000, t);
    expect(m.bitrateBps(1499)).toBe(400_000);
    expect(m.bitrateBps(5000)).toBe(0);
    m.add(500, 5000);
    expect(m.bitrateBps(5000)).toBe(4000);
  });
});

import { MungeResult, RtpMunger, Vp8Munger } from './munger';
import { readRtpHeader } from './rtp';
import { SequenceUnwrapper, TimestampUnwrapper, seqAdd, seqDiff, tsAdd } from './sequence';
import { buildRtp, buildVp8Payload, prng } from './testing';
import { readVp8Descriptor } from './vp8';

const VIDEO = 90_000;
const A = 0xaaaa0001;
const B = 0xbbbb0002;
const C = 0xcccc0003;

function munger(extra: Partial<ConstructorParameters<typeof RtpMunger>[0]> = {}): RtpMunger {
  const m = new RtpMunger({ ssrc: 0x5000, clockRate: VIDEO, ...extra });
  m.setTarget(A);
  return m;
}

/** Forwards one packet and returns [result, out seq, out ts] (seq/ts -1 when dropped). */
function step(m: RtpMunger, ssrc: number, seq: number, ts: number, key: boolean, nowMs: number): [number, number, number] {
  const r = m.process(ssrc, seq, ts, key, nowMs);
  return r === MungeResult.Forward ? [r, m.sequenceNumber, m.timestamp] : [r, -1, -1];
}

describe('RtpMunger: one stream', () => {
  it('drops everything until a target is set', () => {
    const m = new RtpMunger({ ssrc: 1, clockRate: VIDEO });
    expect(m.process(A, 1, 1, true, 0)).toBe(MungeResult.DropPaused);
    expect(m.target).toBeUndefined();
    expect(m.needsKeyframe).toBe(false);
  });

  it('waits for a switch point of the target and forwards it with its own numbers', () => {
    const m = munger();
    expect(m.needsKeyframe).toBe(true);
    expect(m.process(A, 100, 9000, false, 0)).toBe(MungeResult.DropAwaitingSwitchPoint);
    expect(m.process(B, 100, 9000, true, 0)).toBe(MungeResult.DropOtherStream);
    expect(step(m, A, 101, 9000, true, 0)).toEqual([MungeResult.Forward, 101, 9000]);
    expect(m.segment).toBe(0);
    expect(m.current).toBe(A);
    expect(m.needsKeyframe).toBe(false);
  });

  it('starts from the configured numbers', () => {
    const m = munger({ initialSequenceNumber: 65535, initialTimestamp: 0xffffffff });
    expect(step(m, A, 7, 1000, true, 0)).toEqual([MungeResult.Forward, 65535, 0xffffffff]);
    expect(step(m, A, 8, 4000, false, 33)).toEqual([MungeResult.Forward, 0, 2999]);
  });

  it('stays continuous across sequence 65535 and timestamp 2^32', () => {
    const m = munger({ initialSequenceNumber: 1000, initialTimestamp: 5000 });
    let seq = 65533;
    let ts = 0xffffffff - 6000;
    const out: Array<[number, number, number]> = [];
    for (let i = 0; i < 6; i++) {
      out.push(step(m, A, seq, ts, i === 0, i * 33));
      seq = seqAdd(seq, 1);
      ts = tsAdd(ts, 3000);
    }
    expect(out.map((o) => o[1])).toEqual([1000, 1001, 1002, 1003, 1004, 1005]);
    expect(out.map((o) => o[2])).toEqual([5000, 8000, 11000, 14000, 17000, 20000]);
  });

  it('turns a gap in the input into the same gap in the output, and maps the gap back', () => {
    const m = munger({ initialSequenceNumber: 500 });
    step(m, A, 10, 0, true, 0);
    step(m, A, 11, 0, false, 0);
    expect(step(m, A, 14, 3000, false, 33)[1]).toBe(504);
    expect(m.lookup(502)).toBe(true);
    expect([m.lookupSsrc, m.lookupSequenceNumber]).toEqual([A, 12]);
    expect(m.lookup(503)).toBe(true);
    expect(m.lookupSequenceNumber).toBe(13);
    expect(m.lookup(505)).toBe(false); // not sent yet
  });

  it('forwards a late packet into its own slot once, and drops duplicates', () => {
    const m = munger({ initialSequenceNumber: 0 });
    step(m, A, 10, 0, true, 0);
    step(m, A, 12, 3000, false, 33);
    expect(step(m, A, 11, 1500, false, 40)).toEqual([MungeResult.Forward, 1, 1500]);
    expect(m.process(A, 11, 1500, false, 41)).toBe(MungeResult.DropDuplicate);
    expect(m.process(A, 12, 3000, false, 41)).toBe(MungeResult.DropDuplicate);
    expect(m.process(A, 10, 0, true, 41)).toBe(MungeResult.DropDuplicate);
    // The late packet did not move the stream back.
    expect(step(m, A, 13, 3000, false, 50)[1]).toBe(3);
  });

  it('drops packets older than the history, and maps only what it remembers', () => {
    const m = munger({ historySize: 16, initialSequenceNumber: 0 });
    step(m, A, 0, 0, true, 0);
    for (let s = 1; s <= 40; s++) step(m, A, s, s, false, s);
    expect(m.process(A, 40 - 16, 0, false, 50)).toBe(MungeResult.DropTooOld);
    expect(m.lookup(40 - 16)).toBe(false);
    expect(m.lookup(40 - 15)).toBe(true);
    expect(step(m, A, 40 - 15, 25, false, 50)[0]).toBe(MungeResult.DropDuplicate);
  });

  it('rewrites SSRC, sequence number and timestamp of the copy and nothing else', () => {
    const m = munger({ initialSequenceNumber: 7, initialTimestamp: 70 });
    const original = buildRtp({ ssrc: A, sequenceNumber: 300, timestamp: 123456, marker: true, payloadType: 96, extensions: [{ id: 1, data: [5] }] });
    const copy = Buffer.from(original);
    m.process(A, 300, 123456, true, 0);
    m.rewrite(copy);
    expect(readRtpHeader(copy)).toMatchObject({ ssrc: 0x5000, sequenceNumber: 7, timestamp: 70, marker: true, payloadType: 96 });
    expect(copy.subarray(0, 2)).toEqual(original.subarray(0, 2));
    expect(copy.subarray(12)).toEqual(original.subarray(12));
    expect(readRtpHeader(original)?.ssrc).toBe(A);
  });

  it('treats every packet as a switch point for audio: an SSRC change is seamless', () => {
    const m = new RtpMunger({ ssrc: 9, clockRate: 48_000 });
    m.setTarget(A);
    step(m, A, 1, 960, true, 0);
    step(m, A, 2, 1920, true, 20);
    m.setTarget(B);
    expect(step(m, B, 40000, 777, true, 40)).toEqual([MungeResult.Forward, 3, 1920 + 960]);
    expect(step(m, B, 40001, 777 + 960, true, 60)).toEqual([MungeResult.Forward, 4, 1920 + 1920]);
    expect(m.process(A, 3, 2880, true, 60)).toBe(MungeResult.DropOtherStream);
  });

  it('resynchronises when the sender jumps its numbering back (many packets "older" than the history)', () => {
    const m = munger({ historySize: 64, resyncAfter: 4, initialSequenceNumber: 0 });
    step(m, A, 30000, 0, true, 0);
    for (let s = 30001; s < 30010; s++) step(m, A, s, 0, false, 0);
    const results = [0, 1, 2, 3].map((k) => step(m, A, 100 + k, 90_000, false, 100));
    expect(results.slice(0, 3).map((r) => r[0])).toEqual([MungeResult.DropTooOld, MungeResult.DropTooOld, MungeResult.DropTooOld]);
    expect(results[3]).toEqual([MungeResult.Forward, 10, 9000]);
    expect(step(m, A, 104, 93_000, false, 133)).toEqual([MungeResult.Forward, 11, 12000]);
  });
});

describe('RtpMunger: switching layers', () => {
  it('keeps the current layer until the target sends a keyframe, then continues seamlessly', () => {
    const m = munger({ initialSequenceNumber: 65533, initialTimestamp: 0xffffffff - 3000 });
    // Layer A: seq near its own wrap, ts near 2^32.
    step(m, A, 65534, 0xfffff000, true, 1000);
    step(m, A, 65535, 0xfffff000 + 3000, false, 1033);
    m.setTarget(B);
    expect(m.needsKeyframe).toBe(true);
    expect(m.process(B, 10, 500, false, 1040)).toBe(MungeResult.DropAwaitingSwitchPoint);
    // A keeps flowing (across its wrap) while B has no keyframe.
    const lastTs = tsAdd(0xffffffff - 3000, 6000);
    expect(lastTs).toBe(2999);
    expect(step(m, A, 0, 0xfffff000 + 6000, false, 1066)).toEqual([MungeResult.Forward, 65535, lastTs]);
    // B's keyframe arrives 50 ms after A's last packet: seq last+1, ts + 50 ms × 90 kHz.
    expect(step(m, B, 11, 12345, true, 1116)).toEqual([MungeResult.Forward, 0, lastTs + 4500]);
    expect(m.segment).toBe(1);
    expect(m.needsKeyframe).toBe(false);
    // B continues with its own spacing; A is dropped now.
    expect(step(m, B, 12, 12345 + 3000, false, 1150)).toEqual([MungeResult.Forward, 1, lastTs + 7500]);
    expect(m.process(A, 1, 0xfffff000 + 9000, false, 1150)).toBe(MungeResult.DropOtherStream);
  });

  it('drops late packets of the new layer from before its keyframe', () => {
    const m = munger();
    step(m, A, 1, 0, true, 0);
    m.setTarget(B);
    step(m, B, 500, 0, true, 10);
    expect(m.process(B, 499, 0, false, 11)).toBe(MungeResult.DropBeforeSwitch);
    expect(step(m, B, 501, 0, false, 12)[0]).toBe(MungeResult.Forward);
  });

  it('follows a publisher SSRC change like a layer switch', () => {
    const m = munger({ initialSequenceNumber: 0, initialTimestamp: 0 });
    step(m, A, 1, 1000, true, 0);
    m.setTarget(C); // the publisher restarted its camera with a new SSRC
    expect(step(m, C, 9, 42, true, 200)).toEqual([MungeResult.Forward, 1, 18000]);
  });

  it('advances the timestamp by at least one tick when the keyframe arrives in the same millisecond', () => {
    const m = munger({ initialSequenceNumber: 0, initialTimestamp: 100 });
    step(m, A, 1, 5, true, 50);
    m.setTarget(B);
    expect(step(m, B, 1, 5, true, 50)).toEqual([MungeResult.Forward, 1, 101]);
  });

  it('cancels a pending switch when the target goes back to the current layer', () => {
    const m = munger();
    step(m, A, 1, 0, true, 0);
    m.setTarget(B);
    m.setTarget(A);
    expect(m.needsKeyframe).toBe(false);
    expect(m.process(B, 1, 0, true, 1)).toBe(MungeResult.DropOtherStream);
    expect(m.process(A, 2, 0, false, 1)).toBe(MungeResult.Forward);
  });

  it('pauses, and resumes at a keyframe with the time of the pause in the timestamp', () => {
    const m = munger({ initialSequenceNumber: 0, initialTimestamp: 0 });
    step(m, A, 1, 0, true, 0);
    step(m, A, 2, 3000, false, 33);
    m.setTarget(undefined);
    expect(m.target).toBeUndefined();
    expect(m.current).toBeUndefined();
    expect(m.process(A, 3, 6000, false, 66)).toBe(MungeResult.DropPaused);
    m.setTarget(A);
    expect(m.process(A, 100, 300000, false, 2033)).toBe(MungeResult.DropAwaitingSwitchPoint);
    expect(step(m, A, 101, 303000, true, 2033)).toEqual([MungeResult.Forward, 2, 3000 + 2000 * 90]);
  });

  it('answers NACKs for both sides of a switch with the packet as it was forwarded', () => {
    const m = munger({ initialSequenceNumber: 65534 });
    const forwarded = new Map<number, Buffer>();
    const sent = (ssrc: number, seq: number, ts: number, key: boolean, now: number): void => {
      const original = buildRtp({ ssrc, sequenceNumber: seq, timestamp: ts, payload: [seq & 0xff, 1, 2] });
      if (m.process(ssrc, seq, ts, key, now) !== MungeResult.Forward) return;
      const copy = Buffer.from(original);
      m.rewrite(copy);
      forwarded.set(m.sequenceNumber, copy);
    };
    sent(A, 100, 1_000_000, true, 0);
    sent(A, 101, 1_003_000, false, 33);
    sent(A, 102, 1_006_000, false, 66);
    m.setTarget(B);
    sent(B, 7000, 50, true, 80);
    sent(B, 7001, 3050, false, 113);
    expect([...forwarded.keys()]).toEqual([65534, 65535, 0, 1, 2]);
    for (const [outSeq, bytes] of forwarded) {
      expect(m.lookup(outSeq)).toBe(true);
      const inSsrc = m.lookupSsrc;
      const inSeq = m.lookupSequenceNumber;
      expect(inSsrc === A ? inSeq - 100 : inSeq - 7000 + 3).toBe(seqDiff(outSeq, 65534));
      // Rebuild the incoming packet as the cache would hold it, and rewrite it.
      const h = readRtpHeader(bytes);
      if (!h) throw new Error('no header');
      const inTs = inSsrc === A ? 1_000_000 + 3000 * (inSeq - 100) : 50 + 3000 * (inSeq - 7000);
      const cached = buildRtp({ ssrc: inSsrc, sequenceNumber: inSeq, timestamp: inTs, payload: [inSeq & 0xff, 1, 2] });
      m.rewriteRetransmission(cached);
      expect(cached).toEqual(bytes);
    }
  });
});

describe('RtpMunger: random simulcast sessions', () => {
  interface Out {
    ssrc: number;
    inSeq: number;
    outSeq: number;
    outTs: number;
    key: boolean;
    segment: number;
  }

  /**
   * Three layers, each with its own random SSRC base numbers, 30 frames/s of
   * 1..4 packets, keyframes on request; the network reorders, loses and
   * duplicates; the subscriber's target changes at random.
   */
  function session(seed: number): { outs: Out[]; m: RtpMunger } {
    const r = prng(seed);
    const layers = [A, B, C].map((ssrc) => ({ ssrc, seq: r.int(65536), ts: r.int(2 ** 32), keyDue: true }));
    const m = new RtpMunger({ ssrc: 1, clockRate: VIDEO, historySize: 256 });
    m.setTarget(A);
    const inFlight: Array<{ ssrc: number; seq: number; ts: number; key: boolean; at: number }> = [];
    const outs: Out[] = [];
    for (let frame = 0; frame < 1500; frame++) {
      const now = frame * 33;
      if (r.next() < 0.03) m.setTarget([A, B, C][r.int(3)]);
      if (m.needsKeyframe) for (const l of layers) if (l.ssrc === m.target) l.keyDue = true;
      for (const l of layers) {
        const n = 1 + r.int(4);
        for (let k = 0; k < n; k++) {
          const p = { ssrc: l.ssrc, seq: l.seq, ts: l.ts, key: l.keyDue && k === 0, at: now + r.int(60) };
          l.seq = seqAdd(l.seq, 1);
          if (r.next() < 0.02) continue; // lost
          inFlight.push(p);
          if (r.next() < 0.01) inFlight.push({ ...p, at: p.at + r.int(30) }); // duplicated
        }
        l.keyDue = false;
        l.ts = tsAdd(l.ts, 3000);
      }
      inFlight.sort((x, y) => x.at - y.at);
      while (inFlight.length > 0 && (inFlight[0]?.at ?? Infinity) <= now + 33) {
        const p = inFlight.shift();
        if (!p) break;
        if (m.process(p.ssrc, p.seq, p.ts, p.key, p.at) === MungeResult.Forward) {
          outs.push({ ssrc: p.ssrc, inSeq: p.seq, outSeq: m.sequenceNumber, outTs: m.timestamp, key: p.key, segment: m.segment });
        }
      }
    }
    return { outs, m };
  }

  it.each([1, 2, 3, 4, 5])('seed %d: one continuous outgoing stream', (seed) => {
    const { outs, m } = session(seed);
    expect(outs.length).toBeGreaterThan(1000);
    expect(m.segment).toBeGreaterThan(5);

    // Extended outgoing numbers and timestamps, in arrival order.
    const su = new SequenceUnwrapper();
    const tu = new TimestampUnwrapper();
    const ext = outs.map((o) => ({ ...o, seqX: su.unwrap(o.outSeq), tsX: tu.unwrap(o.outTs) }));

    // Never the same outgoing number twice.
    expect(new Set(ext.map((o) => o.seqX)).size).toBe(ext.length);

    // Each segment starts with a keyframe, right after the highest number sent before it.
    let highest = -Infinity;
    let segment = -1;
    for (const o of ext) {
      if (o.segment !== segment) {
        expect(o.key).toBe(true);
        if (segment >= 0) expect(o.seqX).toBe(highest + 1);
        segment = o.segment;
      }
      highest = Math.max(highest, o.seqX);
    }

    // In outgoing order: within a segment the outgoing gaps equal the incoming
    // ones; across segments numbers step by one and timestamps move forward.
    const sorted = [...ext].sort((x, y) => x.seqX - y.seqX);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1] as (typeof sorted)[number];
      const cur = sorted[i] as (typeof sorted)[number];
      if (cur.segment === prev.segment) {
        expect(cur.seqX - prev.seqX).toBe(seqDiff(cur.inSeq, prev.inSeq));
        expect(cur.tsX).toBeGreaterThanOrEqual(prev.tsX);
      } else {
        expect(cur.segment).toBeGreaterThan(prev.segment);
        expect(cur.seqX - prev.seqX).toBe(1);
        expect(cur.tsX).toBeGreaterThan(prev.tsX);
      }
    }

    // The last packets sent map back to where they came from.
    for (const o of outs.slice(-200)) {
      expect(m.lookup(o.outSeq)).toBe(true);
      expect([m.lookupSsrc, m.lookupSequenceNumber]).toEqual([o.ssrc, o.inSeq]);
    }
  });
});

describe('Vp8Munger', () => {
  /** Forwards a VP8 packet through both mungers; returns the outgoing copy. */
  function forward(
    m: RtpMunger,
    v: Vp8Munger,
    ssrc: number,
    seq: number,
    vp8: Parameters<typeof buildVp8Payload>[0],
    now: number,
  ): Buffer | undefined {
    const pkt = buildRtp({ ssrc, sequenceNumber: seq, timestamp: seq * 3000, payload: buildVp8Payload(vp8) });
    const h = readRtpHeader(pkt);
    const d = h && readVp8Descriptor(pkt, h.payloadOffset, h.payloadLength);
    if (!h || !d) throw new Error('did not parse');
    if (m.process(ssrc, seq, h.timestamp, d.isKeyframe, now) !== MungeResult.Forward) return undefined;
    const copy = Buffer.from(pkt);
    m.rewrite(copy);
    expect(v.rewrite(copy, d, m.segment)).toBe(true);
    return copy;
  }

  function pictureOf(b: Buffer | undefined): [number, number] {
    if (!b) throw new Error('dropped');
    const h = readRtpHeader(b);
    const d = h && readVp8Descriptor(b, h.payloadOffset, h.payloadLength);
    return [d?.pictureId ?? -2, d?.tl0PicIdx ?? -2];
  }

  it('continues picture id and TL0PICIDX across a layer switch', () => {
    const m = munger();
    const v = new Vp8Munger();
    expect(pictureOf(forward(m, v, A, 1, { pictureId: 32766, tl0PicIdx: 254, keyframe: true }, 0))).toEqual([32766, 254]);
    expect(pictureOf(forward(m, v, A, 2, { pictureId: 32767, tl0PicIdx: 255 }, 33))).toEqual([32767, 255]);
    m.setTarget(B);
    expect(pictureOf(forward(m, v, B, 900, { pictureId: 1234, tl0PicIdx: 17, keyframe: true }, 66))).toEqual([0, 0]);
    expect(pictureOf(forward(m, v, B, 901, { pictureId: 1234, tl0PicIdx: 17, start: false }, 66))).toEqual([0, 0]);
    expect(pictureOf(forward(m, v, B, 902, { pictureId: 1235, tl0PicIdx: 18 }, 99))).toEqual([1, 1]);
    expect([v.pictureId, v.tl0PicIdx]).toEqual([1, 1]);
  });

  it('keeps 7-bit picture ids 7-bit and continuous modulo 128', () => {
    const m = munger();
    const v = new Vp8Munger();
    forward(m, v, A, 1, { pictureId: 126, pictureIdBits: 7, keyframe: true }, 0);
    expect(pictureOf(forward(m, v, A, 2, { pictureId: 127, pictureIdBits: 7 }, 33))[0]).toBe(127);
    m.setTarget(B);
    const out = forward(m, v, B, 50, { pictureId: 40, pictureIdBits: 7, keyframe: true }, 66);
    expect(pictureOf(out)[0]).toBe(0);
    expect(pictureOf(forward(m, v, B, 51, { pictureId: 41, pictureIdBits: 7 }, 99))[0]).toBe(1);
    if (!out) throw new Error('dropped');
    const h = readRtpHeader(out);
    expect(h && readVp8Descriptor(out, h.payloadOffset, h.payloadLength)?.pictureIdBits).toBe(7);
  });

  it('gives a late packet the picture id it would have had, without moving the last one', () => {
    const m = munger();
    const v = new Vp8Munger();
    forward(m, v, A, 1, { pictureId: 10, keyframe: true }, 0);
    m.setTarget(B);
    forward(m, v, B, 100, { pictureId: 500, keyframe: true }, 10);
    forward(m, v, B, 102, { pictureId: 502 }, 20);
    expect(pictureOf(forward(m, v, B, 101, { pictureId: 501 }, 21))[0]).toBe(12);
    // The next switch continues after the newest picture (13), not the late one.
    m.setTarget(C);
    expect(pictureOf(forward(m, v, C, 5, { pictureId: 9000, keyframe: true }, 30))[0]).toBe(14);
  });

  it('rewrites retransmissions of an older segment with that segment offsets, and refuses unknown segments', () => {
    const m = munger();
    const v = new Vp8Munger();
    const first = forward(m, v, A, 1, { pictureId: 10, keyframe: true }, 0);
    m.setTarget(B);
    forward(m, v, B, 100, { pictureId: 500, keyframe: true }, 10);
    // Resend A's packet: its picture id is the original one again.
    const cached = buildRtp({ ssrc: A, sequenceNumber: 1, timestamp: 3000, payload: buildVp8Payload({ pictureId: 10, keyframe: true }) });
    const h = readRtpHeader(cached);
    const d = h && readVp8Descriptor(cached, h.payloadOffset, h.payloadLength);
    if (!d || !first) throw new Error('setup');
    expect(v.rewrite(cached, d, 0)).toBe(true);
    expect(pictureOf(cached)[0]).toBe(pictureOf(first)[0]);
    expect(v.rewrite(cached, d, -5)).toBe(false);
  });

  it('never changes a byte after the descriptor, across switches', () => {
    const r = prng(0xe2e);
    const m = munger();
    const v = new Vp8Munger();
    let seq = [100, 40000, 65000];
    let checked = 0;
    for (let i = 0; i < 3000; i++) {
      if (i % 200 === 0) m.setTarget([A, B, C][r.int(3)]);
      const li = r.int(3);
      const ssrc = [A, B, C][li] as number;
      const s = seq[li] as number;
      seq = seq.map((x, k) => (k === li ? seqAdd(x, 1) : x));
      const body = r.bytes(1 + r.int(60));
      const payload = buildVp8Payload({
        pictureId: r.int(32768),
        tl0PicIdx: r.next() < 0.5 ? r.int(256) : undefined,
        tid: r.next() < 0.5 ? r.int(3) : undefined,
        keyframe: r.next() < 0.1,
        body,
      });
      const pkt = buildRtp({ ssrc, sequenceNumber: s, timestamp: i * 100, payload });
      const h = readRtpHeader(pkt);
      const d = h && readVp8Descriptor(pkt, h.payloadOffset, h.payloadLength);
      if (!h || !d) throw new Error('did not parse');
      if (m.process(ssrc, s, h.timestamp, d.isKeyframe, i) !== MungeResult.Forward) continue;
      const copy = Buffer.from(pkt);
      m.rewrite(copy);
      v.rewrite(copy, d, m.segment);
      expect(copy.subarray(d.offset + d.length)).toEqual(pkt.subarray(d.offset + d.length));
      checked++;
    }
    expect(checked).toBeGreaterThan(500);
  });
});

import { MungeResult, RtpMunger, Vp8Munger } from './munger';
import { NackResponder, RetransmissionCache } from './retransmission-cache';
import { readRtpHeader } from './rtp';
import { seqAdd } from './sequence';
import { buildRtp, buildVp8Payload, prng } from './testing';
import { readVp8Descriptor } from './vp8';

function packet(seq: number, size = 100, fill = seq & 0xff): Buffer {
  return buildRtp({ sequenceNumber: seq, timestamp: seq * 10, payload: new Array<number>(Math.max(0, size - 12)).fill(fill) });
}

describe('RetransmissionCache', () => {
  it('returns a byte-exact copy of what was put', () => {
    const cache = new RetransmissionCache();
    const p = packet(7, 300);
    expect(cache.put(p, 0)).toBe(true);
    expect(cache.get(7, 10)).toEqual(p);
    p[20] = 0; // the caller reuses its receive buffer
    expect(cache.get(7, 10)?.[20]).toBe(7);
    expect(cache.has(7, 10)).toBe(true);
    expect(cache.get(8, 10)).toBeUndefined();
  });

  it('stores only the given length', () => {
    const cache = new RetransmissionCache();
    const pool = Buffer.alloc(1500, 0xee);
    packet(5, 60).copy(pool);
    cache.put(pool, 0, 60);
    expect(cache.get(5, 0)?.length).toBe(60);
  });

  it('keeps sequence numbers on both sides of 65535', () => {
    const cache = new RetransmissionCache();
    for (const s of [65534, 65535, 0, 1]) cache.put(packet(s), 0);
    for (const s of [65534, 65535, 0, 1]) expect(cache.get(s, 0)?.[2]).toBe(s >> 8);
    expect(cache.get(65536 + 1, 0)).toEqual(packet(1));
  });

  it('forgets a packet after `capacity` newer ones', () => {
    const cache = new RetransmissionCache({ capacity: 8 });
    for (let s = 0; s < 9; s++) cache.put(packet(s), 0);
    expect(cache.get(0, 0)).toBeUndefined();
    expect(cache.get(1, 0)).toEqual(packet(1));
    expect(cache.capacity).toBe(8);
    expect(new RetransmissionCache({ capacity: 1000 }).capacity).toBe(1024);
  });

  it('forgets a packet older than maxAgeMs (1 s by default)', () => {
    const cache = new RetransmissionCache();
    cache.put(packet(1), 1000);
    expect(cache.get(1, 2000)).toBeDefined();
    expect(cache.get(1, 2001)).toBeUndefined();
    const short = new RetransmissionCache({ maxAgeMs: 50 });
    short.put(packet(1), 0);
    expect(short.has(1, 51)).toBe(false);
  });

  it('refuses packets shorter than an RTP header or larger than maxPacketBytes', () => {
    const cache = new RetransmissionCache({ maxPacketBytes: 200 });
    expect(cache.put(Buffer.alloc(11), 0)).toBe(false);
    expect(cache.put(packet(1, 201), 0)).toBe(false);
    expect(cache.put(packet(1, 200), 0)).toBe(true);
    expect(cache.put(packet(2, 50), 0, 51)).toBe(false); // length past the buffer
  });

  it('copyTo copies into a caller buffer, checking room', () => {
    const cache = new RetransmissionCache();
    cache.put(packet(3, 80), 0);
    const dst = Buffer.alloc(100, 1);
    expect(cache.copyTo(3, 0, dst, 10)).toBe(80);
    expect(dst.subarray(10, 90)).toEqual(packet(3, 80));
    expect(dst[9]).toBe(1);
    expect(cache.copyTo(3, 0, dst, 21)).toBe(-1);
    expect(cache.copyTo(4, 0, dst)).toBe(-1);
  });

  it('clear forgets everything', () => {
    const cache = new RetransmissionCache();
    cache.put(packet(3), 0);
    cache.clear();
    expect(cache.has(3, 0)).toBe(false);
  });

  it('grows its arena until one lap holds maxAgeMs of traffic, keeping every packet', () => {
    const cache = new RetransmissionCache({ initialBytes: 1024, maxBytes: 1 << 20 });
    // 1.2 Mbit/s: 125 packets of 1,200 bytes per second.
    const lost: string[] = [];
    const packets = Array.from({ length: 250 }, (_, i) => packet(i, 1200));
    for (let i = 0; i < 250; i++) {
      cache.put(packets[i] as Buffer, i * 8);
      // Everything from the last second is still there after each put.
      for (let s = Math.max(0, i - 120); s <= i; s++) if (!cache.get(s, i * 8)?.equals(packets[s] as Buffer)) lost.push(`${s} at ${i}`);
    }
    expect(lost).toEqual([]);
    expect(cache.allocatedBytes).toBeGreaterThanOrEqual(125 * 1200);
    expect(cache.allocatedBytes).toBeLessThanOrEqual(4 * 125 * 1200);
  });

  it('stays small for a low-rate stream (audio)', () => {
    const cache = new RetransmissionCache({ initialBytes: 16 * 1024 });
    for (let i = 0; i < 3000; i++) cache.put(packet(i, 120), i * 20); // 50 packets/s
    expect(cache.allocatedBytes).toBe(16 * 1024);
    expect(cache.get(2999 - 49, 2999 * 20)).toEqual(packet(2999 - 49, 120));
  });

  it('allocates no buffer per packet once warmed up', () => {
    const cache = new RetransmissionCache();
    let seq = 0;
    for (let i = 0; i < 500; i++, seq++) cache.put(packet(seq, 1000), i * 5);
    const steady = Array.from({ length: 2000 }, (_, i) => packet(seq + i, 1000));
    const allocUnsafe = jest.spyOn(Buffer, 'allocUnsafe');
    const alloc = jest.spyOn(Buffer, 'alloc');
    try {
      for (let i = 0; i < steady.length; i++) cache.put(steady[i] as Buffer, (500 + i) * 5);
      expect(allocUnsafe).not.toHaveBeenCalled();
      expect(alloc).not.toHaveBeenCalled();
    } finally {
      allocUnsafe.mockRestore();
      alloc.mockRestore();
    }
  });

  it('never returns bytes of another packet when the arena is too small (random sizes)', () => {
    const r = prng(1500);
    const cache = new RetransmissionCache({ initialBytes: 2048, maxBytes: 8192, capacity: 64 });
    const sent = new Map<number, Buffer>();
    let found = 0;
    let wrong = 0;
    for (let i = 0; i < 5000; i++) {
      const seq = i & 0xffff;
      const p = packet(seq, 12 + r.int(1400), r.int(256));
      sent.set(seq, p);
      cache.put(p, i);
      for (let k = 0; k < 4; k++) {
        const probe = seqAdd(seq, -r.int(80));
        const got = cache.get(probe, i);
        if (got) {
          if (!got.equals(sent.get(probe) ?? Buffer.alloc(0))) wrong++;
          found++;
        }
      }
    }
    expect(wrong).toBe(0);
    expect(found).toBeGreaterThan(2000);
    expect(cache.allocatedBytes).toBe(8192);
  });
});

describe('NackResponder', () => {
  const OUT_SSRC = 0x77;
  const A = 0xa;
  const B = 0xb;

  /** A VP8 track with two layers, forwarded to one subscriber across a switch. */
  function setup(): {
    m: RtpMunger;
    v: Vp8Munger;
    caches: Map<number, RetransmissionCache>;
    forwarded: Map<number, Buffer>;
    send: (ssrc: number, seq: number, pictureId: number, key: boolean, now: number) => void;
  } {
    const m = new RtpMunger({ ssrc: OUT_SSRC, clockRate: 90_000, initialSequenceNumber: 65530 });
    const v = new Vp8Munger();
    const caches = new Map([
      [A, new RetransmissionCache()],
      [B, new RetransmissionCache()],
    ]);
    const forwarded = new Map<number, Buffer>();
    const send = (ssrc: number, seq: number, pictureId: number, key: boolean, now: number): void => {
      const pkt = buildRtp({ ssrc, sequenceNumber: seq, timestamp: 1000 + seq * 3000, payload: buildVp8Payload({ pictureId, keyframe: key, body: [seq, 1, 2, 3] }) });
      caches.get(ssrc)?.put(pkt, now);
      const h = readRtpHeader(pkt);
      const d = h && readVp8Descriptor(pkt, h.payloadOffset, h.payloadLength);
      if (!h || !d) throw new Error('did not parse');
      if (m.process(ssrc, seq, h.timestamp, d.isKeyframe, now) !== MungeResult.Forward) return;
      const copy = Buffer.from(pkt);
      m.rewrite(copy);
      v.rewrite(copy, d, m.segment);
      forwarded.set(m.sequenceNumber, copy);
    };
    m.setTarget(A);
    send(A, 10, 300, true, 0);
    send(A, 11, 301, false, 33);
    send(A, 12, 302, false, 66);
    m.setTarget(B);
    send(B, 90, 7000, true, 80);
    send(B, 91, 7001, false, 100);
    return { m, v, caches, forwarded, send };
  }

  it('resends exactly the bytes the subscriber was sent, on both sides of a switch', () => {
    const { m, v, caches, forwarded } = setup();
    const responder = new NackResponder();
    const lost = [...forwarded.keys()];
    expect(lost).toEqual([65530, 65531, 65532, 65533, 65534]);
    const resent = responder.respond(lost, lost.length, m, (ssrc) => caches.get(ssrc), 110, v);
    expect(resent).toEqual(lost.map((s) => forwarded.get(s)));
    expect(responder.resent).toBe(5);
    // Each is the subscriber's own copy, not a view of the cache.
    const first = resent[0];
    if (!first) throw new Error('nothing resent');
    first[0] = 0;
    expect(responder.respond([65530], 1, m, (ssrc) => caches.get(ssrc), 300, v)[0]?.[0]).toBe(0x80);
  });

  it('resends a packet the input gap skipped once the publisher has retransmitted it', () => {
    const { m, v, caches, send } = setup();
    send(B, 93, 7003, false, 133); // 92 lost on the way in: outgoing 65535 is a gap
    const responder = new NackResponder();
    const get = (ssrc: number): RetransmissionCache | undefined => caches.get(ssrc);
    expect(responder.respond([65535], 1, m, get, 140, v)).toEqual([]);
    expect(responder.missing).toBe(1);
    // The publisher's retransmission lands in the cache.
    caches.get(B)?.put(buildRtp({ ssrc: B, sequenceNumber: 92, timestamp: 1000 + 92 * 3000, payload: buildVp8Payload({ pictureId: 7002, body: [92] }) }), 150);
    const [p] = responder.respond([65535], 1, m, get, 160, v);
    if (!p) throw new Error('not resent');
    const h = readRtpHeader(p);
    // A's last packet went out with 37000 at 66 ms, B's keyframe 14 ms later (+1260 ticks); B 92 is one frame after it.
    expect(h).toMatchObject({ ssrc: OUT_SSRC, sequenceNumber: 65535, timestamp: 37000 + 14 * 90 + 2 * 3000 });
    const d = h && readVp8Descriptor(p, h.payloadOffset, h.payloadLength);
    expect(d?.pictureId).toBe(305); // 300, 301, 302, then B's 7000 → 303, so 7002 → 305
  });

  it('resends one number at most once per interval', () => {
    const { m, v, caches } = setup();
    const responder = new NackResponder({ minResendIntervalMs: 100 });
    const get = (ssrc: number): RetransmissionCache | undefined => caches.get(ssrc);
    expect(responder.respond([65533], 1, m, get, 200, v)).toHaveLength(1);
    expect(responder.respond([65533, 65534], 2, m, get, 299, v)).toHaveLength(1);
    expect(responder.rateLimited).toBe(1);
    expect(responder.respond([65533], 1, m, get, 300, v)).toHaveLength(1);
  });

  it('counts numbers it cannot answer: never mapped, expired, or no cache', () => {
    const { m, v, caches } = setup();
    const responder = new NackResponder();
    expect(responder.respond([1234], 1, m, (ssrc) => caches.get(ssrc), 110, v)).toEqual([]);
    expect(responder.respond([65530], 1, m, (ssrc) => caches.get(ssrc), 5000, v)).toEqual([]);
    expect(responder.respond([65533], 1, m, () => undefined, 110, v)).toEqual([]);
    expect(responder.missing).toBe(3);
    expect(responder.resent).toBe(0);
  });

  it('works without a VP8 munger (audio, H.264) and honours count', () => {
    const m = new RtpMunger({ ssrc: 5, clockRate: 48_000 });
    m.setTarget(A);
    const cache = new RetransmissionCache();
    for (let s = 0; s < 5; s++) {
      const p = buildRtp({ ssrc: A, sequenceNumber: s, timestamp: s * 960, payloadType: 111 });
      cache.put(p, 0);
      m.process(A, s, s * 960, true, s * 20);
    }
    const out = new NackResponder().respond([1, 3], 1, m, () => cache, 100);
    expect(out).toHaveLength(1);
    expect(readRtpHeader(out[0] ?? Buffer.alloc(0))).toMatchObject({ ssrc: 5, sequenceNumber: 1, timestamp: 960, payloadType: 111 });
  });
});

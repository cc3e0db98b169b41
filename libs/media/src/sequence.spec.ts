import {
  SequenceUnwrapper,
  TimestampUnwrapper,
  isSeqNewer,
  isTsNewer,
  seqAdd,
  seqDiff,
  tsAdd,
  tsDiff,
} from './sequence';
import { prng } from './testing';

describe('16-bit sequence arithmetic', () => {
  it('measures signed distance across the wrap at 65535', () => {
    expect(seqDiff(5, 3)).toBe(2);
    expect(seqDiff(3, 5)).toBe(-2);
    expect(seqDiff(0, 65535)).toBe(1);
    expect(seqDiff(65535, 0)).toBe(-1);
    expect(seqDiff(10, 65530)).toBe(16);
    expect(seqDiff(32767, 0)).toBe(32767);
    expect(seqDiff(32768, 0)).toBe(-32768);
    expect(seqDiff(0, 32768)).toBe(-32768);
  });

  it('isSeqNewer follows the half-space rule', () => {
    expect(isSeqNewer(0, 65535)).toBe(true);
    expect(isSeqNewer(65535, 0)).toBe(false);
    expect(isSeqNewer(7, 7)).toBe(false);
    expect(isSeqNewer(32768, 0)).toBe(false);
    expect(isSeqNewer(0, 32768)).toBe(false);
  });

  it('seqAdd wraps both ways', () => {
    expect(seqAdd(65535, 1)).toBe(0);
    expect(seqAdd(0, -1)).toBe(65535);
    expect(seqAdd(65000, 1000)).toBe(464);
  });

  it('seqDiff undoes seqAdd for any distance below half the space', () => {
    const r = prng(1);
    let wrong = 0;
    for (let i = 0; i < 100_000; i++) {
      const a = r.int(65536);
      const n = r.int(65535) - 32767;
      if (seqDiff(seqAdd(a, n), a) !== n) wrong++;
    }
    expect(wrong).toBe(0);
  });
});

describe('32-bit timestamp arithmetic', () => {
  it('measures signed distance across the wrap at 2^32', () => {
    expect(tsDiff(0, 0xffffffff)).toBe(1);
    expect(tsDiff(0xffffffff, 0)).toBe(-1);
    expect(tsDiff(90000, 0xffffffff - 89999)).toBe(180000);
    expect(tsDiff(0x80000000, 0)).toBe(-0x80000000);
    expect(tsDiff(0x7fffffff, 0)).toBe(0x7fffffff);
  });

  it('isTsNewer and tsAdd wrap', () => {
    expect(isTsNewer(10, 0xfffffff0)).toBe(true);
    expect(isTsNewer(0xfffffff0, 10)).toBe(false);
    expect(tsAdd(0xffffffff, 1)).toBe(0);
    expect(tsAdd(0, -1)).toBe(0xffffffff);
    expect(tsAdd(0xfffffff0, 3000)).toBe(3000 - 16);
  });
});

describe('SequenceUnwrapper', () => {
  it('keeps the first number and counts on across 65535', () => {
    const u = new SequenceUnwrapper();
    expect(u.highest).toBeUndefined();
    expect([65534, 65535, 0, 1].map((s) => u.unwrap(s))).toEqual([65534, 65535, 65536, 65537]);
    expect(u.highest).toBe(65537);
  });

  it('places a reordered packet before the wrap without moving the highest back', () => {
    const u = new SequenceUnwrapper();
    u.unwrap(65534);
    u.unwrap(1);
    expect(u.unwrap(65535)).toBe(65535);
    expect(u.highest).toBe(65537);
    expect(u.unwrap(2)).toBe(65538);
  });

  it('gives a negative number to a packet older than the first across the wrap', () => {
    const u = new SequenceUnwrapper();
    u.unwrap(0);
    expect(u.unwrap(65535)).toBe(-1);
  });

  it('reset starts afresh', () => {
    const u = new SequenceUnwrapper();
    u.unwrap(100);
    u.reset();
    expect(u.unwrap(5)).toBe(5);
  });

  it('recovers the true extended numbers of a long reordered stream', () => {
    const r = prng(42);
    const u = new SequenceUnwrapper();
    let ext = 60000;
    const window: number[] = [];
    const wrong: string[] = [];
    let delivered = 0;
    for (let i = 0; i < 200_000; i++) {
      ext += 1;
      window.push(ext);
      // Deliver a random one of the last few (reordering up to ~20 packets).
      if (window.length > 20 || r.next() < 0.5) {
        const k = r.int(window.length);
        const e = window.splice(k, 1)[0] as number;
        const got = u.unwrap(e % 65536);
        delivered++;
        if (got !== e && wrong.length < 5) wrong.push(`${e} -> ${got}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(delivered).toBeGreaterThan(190_000);
  });
});

describe('TimestampUnwrapper', () => {
  it('counts on across 2^32', () => {
    const u = new TimestampUnwrapper();
    const start = 0xffffffff - 2999;
    expect(u.unwrap(start)).toBe(start);
    expect(u.unwrap(tsAdd(start, 3000))).toBe(start + 3000);
    expect(u.unwrap(tsAdd(start, 6000))).toBe(start + 6000);
    expect(u.unwrap(tsAdd(start, 1500))).toBe(start + 1500); // late, before the wrap
    expect(u.highest).toBe(start + 6000);
  });

  it('keeps counting over many wraps', () => {
    const u = new TimestampUnwrapper();
    let ext = 0;
    u.unwrap(0);
    for (let i = 0; i < 10; i++) {
      ext += 0x7000_0000;
      expect(u.unwrap(ext % 2 ** 32)).toBe(ext);
    }
  });
});

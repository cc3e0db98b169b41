/**
 * Test helpers for this library's specs: hand-built RTP packets, VP8
 * payloads, a seeded PRNG and a byte view that fails on out-of-bounds reads.
 * Not exported from the package.
 */

/** One header extension element. */
export interface TestExtension {
  id: number;
  data: readonly number[];
}

/** Fields of `buildRtp`; everything has a default. */
export interface TestRtp {
  payloadType?: number;
  sequenceNumber?: number;
  timestamp?: number;
  ssrc?: number;
  marker?: boolean;
  csrcs?: readonly number[];
  /** Extension elements in the one-byte (default) or two-byte form. */
  extensions?: readonly TestExtension[];
  extensionForm?: 'one-byte' | 'two-byte';
  payload?: ArrayLike<number>;
  /** Padding bytes to append (count byte included); 0 = no P bit. */
  padding?: number;
}

function pushU16(out: number[], v: number): void {
  out.push((v >>> 8) & 0xff, v & 0xff);
}

function pushU32(out: number[], v: number): void {
  out.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

/** Builds an RTP packet byte by byte, as RFC 3550 and RFC 8285 lay it out. */
export function buildRtp(p: TestRtp = {}): Buffer {
  const csrcs = p.csrcs ?? [];
  const padding = p.padding ?? 0;
  const out: number[] = [];
  const hasExt = p.extensions !== undefined;
  out.push(0x80 | (padding > 0 ? 0x20 : 0) | (hasExt ? 0x10 : 0) | csrcs.length);
  out.push((p.marker ? 0x80 : 0) | ((p.payloadType ?? 96) & 0x7f));
  pushU16(out, p.sequenceNumber ?? 0);
  pushU32(out, p.timestamp ?? 0);
  pushU32(out, p.ssrc ?? 0x1234);
  for (const c of csrcs) pushU32(out, c);
  if (hasExt) {
    const body: number[] = [];
    const twoByte = p.extensionForm === 'two-byte';
    for (const e of p.extensions ?? []) {
      if (twoByte) body.push(e.id, e.data.length, ...e.data);
      else body.push((e.id << 4) | (e.data.length - 1), ...e.data);
    }
    while (body.length % 4 !== 0) body.push(0);
    pushU16(out, twoByte ? 0x1000 : 0xbede);
    pushU16(out, body.length / 4);
    out.push(...body);
  }
  out.push(...Array.from(p.payload ?? [0xaa, 0xbb]));
  if (padding > 0) {
    for (let i = 0; i < padding - 1; i++) out.push(0);
    out.push(padding);
  }
  return Buffer.from(out);
}

/** Fields of `buildVp8Payload`. */
export interface TestVp8 {
  /** S bit. Default true. */
  start?: boolean;
  /** PID. Default 0. */
  partition?: number;
  nonReference?: boolean;
  pictureId?: number;
  /** Default 15 when `pictureId` is given. */
  pictureIdBits?: 7 | 15;
  tl0PicIdx?: number;
  tid?: number;
  layerSync?: boolean;
  keyIndex?: number;
  /** First byte of the VP8 payload header: P bit clear. Default false (inter frame). */
  keyframe?: boolean;
  /** Bytes after the payload header byte (opaque / "encrypted"). */
  body?: ArrayLike<number>;
}

/** Builds a VP8 RTP payload: descriptor (RFC 7741 §4.2), then a payload header byte, then `body`. */
export function buildVp8Payload(v: TestVp8 = {}): number[] {
  const out: number[] = [];
  const hasI = v.pictureId !== undefined;
  const hasL = v.tl0PicIdx !== undefined;
  const hasT = v.tid !== undefined;
  const hasK = v.keyIndex !== undefined;
  const x = hasI || hasL || hasT || hasK;
  out.push((x ? 0x80 : 0) | (v.nonReference ? 0x20 : 0) | ((v.start ?? true) ? 0x10 : 0) | ((v.partition ?? 0) & 7));
  if (x) out.push((hasI ? 0x80 : 0) | (hasL ? 0x40 : 0) | (hasT ? 0x20 : 0) | (hasK ? 0x10 : 0));
  if (hasI) {
    const id = v.pictureId ?? 0;
    if ((v.pictureIdBits ?? 15) === 15) out.push(0x80 | ((id >> 8) & 0x7f), id & 0xff);
    else out.push(id & 0x7f);
  }
  if (hasL) out.push((v.tl0PicIdx ?? 0) & 0xff);
  if (hasT || hasK) out.push((((v.tid ?? 0) & 3) << 6) | (v.layerSync ? 0x20 : 0) | ((v.keyIndex ?? 0) & 0x1f));
  // VP8 payload header, first byte: size0(3) H(1) VER(3) P(1); P=0 marks a keyframe.
  out.push(v.keyframe ? 0x10 : 0x11);
  out.push(...Array.from(v.body ?? [1, 2, 3, 4]));
  return out;
}

/** Seeded PRNG (mulberry32): the same seed gives the same sequence on every run. */
export function prng(seed: number): { next(): number; int(maxExclusive: number): number; bytes(n: number): Uint8Array } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (maxExclusive: number): number => Math.floor(next() * maxExclusive);
  return {
    next,
    int,
    bytes: (n) => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    },
  };
}

/** Thrown by `guarded` views on a read outside the bytes. */
export class OutOfBoundsRead extends Error {}

/**
 * A view of `bytes` that throws `OutOfBoundsRead` on any indexed read outside
 * them, so a fuzz test proves a parser never looks past the end (a plain
 * typed array would silently answer undefined). Only indexed reads and
 * `length` work through it: pass it to functions that read by index.
 */
export function guarded(bytes: Uint8Array): Uint8Array {
  return new Proxy(bytes, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && /^-?\d+$/.test(prop)) {
        const i = Number(prop);
        if (i < 0 || i >= target.length) throw new OutOfBoundsRead(`read at ${i} of ${target.length} bytes`);
        return target[i];
      }
      if (prop === 'length') return target.length;
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

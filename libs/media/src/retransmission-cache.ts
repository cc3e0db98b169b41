/**
 * Retransmission cache per published stream (one per incoming SSRC), and the
 * NACK responder that answers a subscriber's NACKs from it.
 *
 * Memory is what decides the cache's shape: a module holds hundreds of
 * published streams, so 1024 fixed slots of 1,500 bytes each (1.5 MB a
 * stream) would cost gigabytes. Packets are instead copied one after another
 * into a byte ring (the "arena") that starts small and doubles, during the
 * first seconds of a stream, whenever it would overwrite a packet younger than
 * `maxAgeMs`, so that one lap of it holds `maxAgeMs` of traffic:
 * about 150 KB for a 1.2 Mbit/s video layer, 16 KB for audio. After that
 * warm-up, storing a packet is one `copy` and a few typed-array writes.
 *
 * A packet is found by its sequence number through an index of `capacity`
 * entries (slot = seq mod capacity). It is gone when its index entry was
 * reused (`capacity` newer packets), its bytes were overwritten (the arena
 * went round), or it is older than `maxAgeMs`.
 */
import { type RtpMunger, type Vp8Munger } from './munger';
import { createRtpHeader, readRtpHeader, readRtpSequenceNumber } from './rtp';
import { createVp8Descriptor, readVp8Descriptor } from './vp8';

/** Options of `RetransmissionCache`. */
export interface RetransmissionCacheOptions {
  /** Most packets kept (rounded up to a power of two). Default 1024. */
  capacity?: number;
  /** Oldest packet kept, in milliseconds. Default 1000. */
  maxAgeMs?: number;
  /** Arena bytes allocated at first. Default 16 KiB. */
  initialBytes?: number;
  /** Arena bytes it may grow to (doubling). Default 2 MiB. */
  maxBytes?: number;
  /** Largest packet stored; larger ones are refused. Default 1500 bytes. */
  maxPacketBytes?: number;
}

function powerOfTwoAtLeast(n: number, min: number): number {
  let p = min;
  while (p < n) p *= 2;
  return p;
}

/** Ring buffer of one stream's recent packets, keyed by sequence number. */
export class RetransmissionCache {
  /** Oldest packet kept, in milliseconds. */
  readonly maxAgeMs: number;
  /** Index entries (a power of two). */
  readonly capacity: number;
  private readonly maxBytes: number;
  private readonly maxPacketBytes: number;
  private arena: Buffer;
  /** Logical byte position of the next write; arena offset = position % arena.length. */
  private writePos = 0;
  /** Write-order ring (start position, time) of the packets in the arena, oldest at `tail`. */
  private readonly orderStarts: Float64Array;
  private readonly orderTimes: Float64Array;
  private head = 0;
  private tail = 0;
  private readonly seqs: Int32Array;
  private readonly starts: Float64Array;
  private readonly lengths: Uint16Array;
  private readonly times: Float64Array;

  constructor(options: RetransmissionCacheOptions = {}) {
    this.capacity = powerOfTwoAtLeast(options.capacity ?? 1024, 1);
    this.maxAgeMs = options.maxAgeMs ?? 1000;
    this.maxPacketBytes = Math.min(options.maxPacketBytes ?? 1500, 0xffff);
    this.maxBytes = Math.max(options.maxBytes ?? 2 * 1024 * 1024, this.maxPacketBytes);
    this.arena = Buffer.allocUnsafe(Math.min(options.initialBytes ?? 16 * 1024, this.maxBytes));
    this.seqs = new Int32Array(this.capacity).fill(-1);
    this.starts = new Float64Array(this.capacity);
    this.lengths = new Uint16Array(this.capacity);
    this.times = new Float64Array(this.capacity);
    this.orderStarts = new Float64Array(this.capacity);
    this.orderTimes = new Float64Array(this.capacity);
  }

  /** Bytes the arena holds now (grows by doubling up to `maxBytes`). */
  get allocatedBytes(): number {
    return this.arena.length;
  }

  /**
   * Stores a copy of an RTP packet (validated by the caller), keyed by its
   * sequence number; a later packet with the same number replaces it.
   * @param length bytes of `packet` to store; default `packet.length`
   * @returns false when the packet is shorter than an RTP header or larger
   *   than `maxPacketBytes` (then it is not stored)
   */
  put(packet: Uint8Array, nowMs: number, length = packet.length): boolean {
    if (length < 12 || length > this.maxPacketBytes || length > packet.length) return false;
    let offset: number;
    for (;;) {
      const size = this.arena.length;
      if (length > size) {
        if (!this.grow(nowMs)) return false;
        continue;
      }
      offset = this.writePos % size;
      // A packet never straddles the end of the arena: skip to the next lap.
      if (offset + length > size) {
        this.writePos += size - offset;
        offset = 0;
      }
      // Bytes written before `limit` are overwritten by this packet. If one of
      // those packets is younger than maxAgeMs, the arena is too small to keep
      // packets as long as promised: double it (until maxBytes) instead.
      const limit = this.writePos + length - size;
      let young = false;
      while (this.tail < this.head) {
        const i = this.tail & (this.capacity - 1);
        if ((this.orderStarts[i] as number) >= limit) break;
        if (nowMs - (this.orderTimes[i] as number) < this.maxAgeMs && size < this.maxBytes) {
          young = true;
          break;
        }
        this.tail++;
      }
      if (young && this.grow(nowMs)) continue;
      break;
    }
    // The common case (the whole buffer) creates no view object.
    this.arena.set(length === packet.length ? packet : packet.subarray(0, length), offset);
    const seq = readRtpSequenceNumber(packet);
    const slot = seq & (this.capacity - 1);
    this.seqs[slot] = seq;
    this.starts[slot] = this.writePos;
    this.lengths[slot] = length;
    this.times[slot] = nowMs;
    // Write order, for the growth check above; the oldest entry falls out when full.
    if (this.head - this.tail === this.capacity) this.tail++;
    const o = this.head & (this.capacity - 1);
    this.orderStarts[o] = this.writePos;
    this.orderTimes[o] = nowMs;
    this.head++;
    this.writePos += length;
    return true;
  }

  /**
   * The stored packet with sequence number `seq`, as a view into the arena:
   * valid until the next `put`, so copy it before anything else touches the
   * cache. Allocates the view; `copyTo` does not.
   * @returns undefined when missing, overwritten or older than `maxAgeMs`
   */
  get(seq: number, nowMs: number): Buffer | undefined {
    const slot = this.find(seq, nowMs);
    if (slot < 0) return undefined;
    const start = (this.starts[slot] as number) % this.arena.length;
    return this.arena.subarray(start, start + (this.lengths[slot] as number));
  }

  /**
   * Copies the stored packet with sequence number `seq` into `dst` at `dstOffset`.
   * @returns its length, or -1 when missing, expired, or `dst` is too small
   */
  copyTo(seq: number, nowMs: number, dst: Uint8Array, dstOffset = 0): number {
    const slot = this.find(seq, nowMs);
    if (slot < 0) return -1;
    const length = this.lengths[slot] as number;
    if (dstOffset < 0 || dstOffset + length > dst.length) return -1;
    const start = (this.starts[slot] as number) % this.arena.length;
    dst.set(this.arena.subarray(start, start + length), dstOffset);
    return length;
  }

  /** True when `get(seq, nowMs)` would find the packet. */
  has(seq: number, nowMs: number): boolean {
    return this.find(seq, nowMs) >= 0;
  }

  /** Forgets every packet (e.g. the publisher's SSRC was reused for a new stream). */
  clear(): void {
    this.seqs.fill(-1);
    this.tail = this.head;
  }

  private find(seq: number, nowMs: number): number {
    const s = seq & 0xffff;
    const slot = s & (this.capacity - 1);
    if (this.seqs[slot] !== s) return -1;
    // Its bytes are intact while fewer than one arena's worth were written after it.
    if (this.writePos - (this.starts[slot] as number) > this.arena.length) return -1;
    if (nowMs - (this.times[slot] as number) > this.maxAgeMs) return -1;
    return slot;
  }

  /**
   * Doubles the arena, moving every intact packet to where its logical
   * position falls in the bigger one. Packets never straddle the old end,
   * so they never straddle the new one either.
   */
  private grow(nowMs: number): boolean {
    const old = this.arena;
    const size = Math.min(old.length * 2, this.maxBytes);
    if (size <= old.length) return false;
    const next = Buffer.allocUnsafe(size);
    for (let slot = 0; slot < this.capacity; slot++) {
      if (this.seqs[slot] === -1) continue;
      const start = this.starts[slot] as number;
      if (this.writePos - start > old.length || nowMs - (this.times[slot] as number) > this.maxAgeMs) {
        this.seqs[slot] = -1;
        continue;
      }
      const from = start % old.length;
      next.set(old.subarray(from, from + (this.lengths[slot] as number)), start % size);
    }
    this.arena = next;
    return true;
  }
}

/** Options of `NackResponder`. */
export interface NackResponderOptions {
  /** Least time between two resends of one outgoing sequence number, in ms (about one RTT). Default 100. */
  minResendIntervalMs?: number;
  /** Outgoing sequence numbers whose last resend time is remembered (power of two). Default 1024. */
  historySize?: number;
}

/**
 * Answers one subscriber's NACKs for one track: maps each outgoing sequence
 * number through the subscriber's `RtpMunger` to the incoming packet, finds
 * it in that stream's `RetransmissionCache`, and returns copies rewritten as
 * the subscriber saw them (SSRC, sequence number, timestamp, VP8 picture id).
 * A number resent less than `minResendIntervalMs` ago is skipped: a NACK
 * repeated before the first resend could arrive would only add load.
 */
export class NackResponder {
  /** Packets returned for resending, in total. */
  resent = 0;
  /** NACKed numbers skipped because they were resent too recently. */
  rateLimited = 0;
  /** NACKed numbers not answerable: unmapped, or no longer (or never) in the cache. */
  missing = 0;

  private readonly minResendIntervalMs: number;
  private readonly mask: number;
  private readonly resendSeq: Int32Array;
  private readonly resendMs: Float64Array;
  private readonly header = createRtpHeader();
  private readonly desc = createVp8Descriptor();

  constructor(options: NackResponderOptions = {}) {
    this.minResendIntervalMs = options.minResendIntervalMs ?? 100;
    const size = powerOfTwoAtLeast(options.historySize ?? 1024, 1);
    this.mask = size - 1;
    this.resendSeq = new Int32Array(size).fill(-1);
    this.resendMs = new Float64Array(size);
  }

  /**
   * @param lost outgoing sequence numbers from the subscriber's NACK (e.g.
   *   filled by `readNackSequenceNumbers`)
   * @param count how many entries of `lost` to use; default all
   * @param munger the subscriber's munger for this track
   * @param cacheFor the cache of an incoming SSRC (undefined when unknown);
   *   create this function once per track, not per NACK
   * @param vp8 the subscriber's VP8 munger, when the track is VP8
   * @returns new buffers, one per packet to resend, in NACK order; each is
   *   the subscriber's own copy (safe to hand to a sender that keeps it)
   */
  respond(
    lost: ArrayLike<number>,
    count: number,
    munger: RtpMunger,
    cacheFor: (ssrc: number) => RetransmissionCache | undefined,
    nowMs: number,
    vp8?: Vp8Munger,
  ): Buffer[] {
    const out: Buffer[] = [];
    const n = Math.min(count, lost.length);
    for (let i = 0; i < n; i++) {
      const seq = (lost[i] as number) & 0xffff;
      const slot = seq & this.mask;
      if (this.resendSeq[slot] === seq && nowMs - (this.resendMs[slot] as number) < this.minResendIntervalMs) {
        this.rateLimited++;
        continue;
      }
      if (!munger.lookup(seq)) {
        this.missing++;
        continue;
      }
      const cached = cacheFor(munger.lookupSsrc)?.get(munger.lookupSequenceNumber, nowMs);
      if (!cached) {
        this.missing++;
        continue;
      }
      const copy = Buffer.from(cached);
      const h = readRtpHeader(copy, this.header);
      if (!h) {
        this.missing++;
        continue;
      }
      if (vp8) {
        const d = readVp8Descriptor(copy, h.payloadOffset, h.payloadLength, this.desc);
        if (!d || !vp8.rewrite(copy, d, munger.lookupSegment)) {
          this.missing++;
          continue;
        }
      }
      munger.rewriteRetransmission(copy);
      this.resendSeq[slot] = seq;
      this.resendMs[slot] = nowMs;
      this.resent++;
      out.push(copy);
    }
    return out;
  }
}

import type { Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIPv4, isIPv6 } from 'node:net';
import { join } from 'node:path';

// The media fast path (docs/fastpath.md): a small N-API addon
// (native/fastpath.c) that protects SRTP and SRTCP with keyed-once cipher contexts and
// sends a forwarding turn's datagrams in one sendmmsg(2). Optional: when the
// addon was not built (no compiler, another platform) `loadFastPath` says why
// and callers keep their JavaScript path.

/** The session keys of one direction of an SRTP session (RFC 3711, RFC 7714). */
export interface FastSrtpKeys {
  /** DTLS-SRTP profile: 0x0001 AES128_CM_HMAC_SHA1_80 or 0x0007 AEAD_AES_128_GCM. */
  profile: number;
  key: Buffer;
  salt: Buffer;
  /** 20 bytes for AES-CM; ignored for GCM. */
  authKey: Buffer;
}

/** What a context is for: protecting packets to send, or unprotecting received ones. */
export type SrtpUse = 'protect' | 'unprotect';

/** A keyed SRTP context inside the addon; freed when garbage-collected. */
export interface FastSrtpContext {
  readonly __fastSrtpContext: unique symbol;
}

/** Where a datagram goes, parsed once (an address is reused for every packet to it). */
export interface Destination {
  readonly family: 4 | 6;
  readonly port: number;
  /** The address as 32-bit words in network order (IPv4: the first word only). */
  readonly words: readonly [number, number, number, number];
}

interface Binding {
  srtpContext(profile: number, key: Buffer, salt: Buffer, authKey: Buffer, unprotect: boolean): FastSrtpContext;
  unprotect(context: FastSrtpContext, buffer: Buffer, roc: number): number;
  protect(context: FastSrtpContext, buffer: Buffer, offset: number, headerLength: number, length: number, roc: number): number;
  protectRtcp(context: FastSrtpContext, buffer: Buffer, length: number, index: number): number;
  unprotectRtcp(context: FastSrtpContext, buffer: Buffer): number;
  sendBatch(fd: number, arena: Buffer, descriptors: Uint32Array, contexts: (FastSrtpContext | undefined)[], count: number): number;
  readonly descriptorWords: number;
}

/** The loaded addon. */
export interface FastPath {
  /** A context for the keys (default: for protecting); throws a TypeError with code ERR_FASTPATH_* for bad keys. */
  srtpContext(keys: FastSrtpKeys, use?: SrtpUse): FastSrtpContext;
  /** Tag length a context's profile appends: 16 (GCM) or 10 (CM). */
  tagLength(profile: number): number;
  /** Protects the RTP packet at buffer[offset, offset + length) in place; the tag follows it. Returns the protected length. */
  protect(context: FastSrtpContext, buffer: Buffer, offset: number, headerLength: number, length: number, roc: number): number;
  /**
   * Authenticates and decrypts the SRTP packet that fills `buffer`, in place,
   * with an 'unprotect' context and rollover counter `roc`.
   * @returns the RTP packet's length (tag dropped); UNPROTECT_NOT_RTP or UNPROTECT_FORGED
   */
  unprotect(context: FastSrtpContext, buffer: Buffer, roc: number): number;
  /**
   * Protects the RTCP compound packet in `buffer[0, length)` in place as
   * SRTCP with `index` (0 … 2^31 − 1, one more for each packet of a sender
   * SSRC), encrypted; the index word and the tag follow it, so `buffer` needs
   * `length + srtcpOverhead(profile)` bytes. The context is keyed with the
   * session's SRTCP keys (RFC 3711 §4.3.2: labels 3–5), not its SRTP keys.
   * @returns the SRTCP packet's length
   */
  protectRtcp(context: FastSrtpContext, buffer: Buffer, length: number, index: number): number;
  /**
   * Authenticates and decrypts the SRTCP packet that fills `buffer`, in place,
   * with an 'unprotect' context of the SRTCP keys.
   * @returns the RTCP compound packet's length; UNPROTECT_NOT_SRTCP or UNPROTECT_FORGED
   */
  unprotectRtcp(context: FastSrtpContext, buffer: Buffer): number;
  /** Bytes SRTCP adds to an RTCP packet: the E flag and index (4), then the tag (GCM 16, CM 10). */
  srtcpOverhead(profile: number): number;
  /** A batch on this bound UDP socket, or undefined when its descriptor cannot be read. */
  batchFor(socket: Socket, options?: DatagramBatchOptions): DatagramBatch | undefined;
}

/** The addon, or why it is not there. */
export type FastPathLoad = { fastPath: FastPath; error?: undefined } | { fastPath?: undefined; error: string };

/** `unprotect`: the datagram is not an RTP packet (too short, bad version, header past its end). */
export const UNPROTECT_NOT_RTP = -1;
/** `unprotectRtcp`: the datagram is not an SRTCP packet (shorter than a header, index and tag, or not version 2). */
export const UNPROTECT_NOT_SRTCP = -1;
/** `unprotect`, `unprotectRtcp`: the packet does not authenticate with the context's keys. */
export const UNPROTECT_FORGED = -2;

const ADDON = 'meetedge_fastpath.node';

/** Where the addon may be: beside a bundle (dist/apps/<app>/), or in this library's node-gyp build. */
function candidates(): string[] {
  return [join(__dirname, ADDON), join(__dirname, '..', 'build', 'Release', ADDON)];
}

let loaded: FastPathLoad | undefined;

/** Loads the addon once; later calls answer the same. */
export function loadFastPath(): FastPathLoad {
  if (loaded) return loaded;
  const path = candidates().find((candidate) => existsSync(candidate));
  if (!path) {
    loaded = { error: `${ADDON} is not built (looked in ${candidates().join(', ')}); run "npm rebuild @meetedge/fastpath"` };
    return loaded;
  }
  try {
    const binding = createRequire(__filename)(path) as Binding;
    if (binding.descriptorWords !== DESCRIPTOR_WORDS) throw new Error(`${path} is from another version (descriptor of ${binding.descriptorWords} words)`);
    if (typeof binding.protectRtcp !== 'function') throw new Error(`${path} is from an earlier version (no SRTCP); run "npm rebuild @meetedge/fastpath"`);
    loaded = { fastPath: fastPathOf(binding) };
  } catch (error) {
    loaded = { error: `${path} does not load: ${(error as Error).message}` };
  }
  return loaded;
}

const DESCRIPTOR_WORDS = 10;

function tagLength(profile: number): number {
  if (profile === 0x0007) return 16;
  if (profile === 0x0001) return 10;
  throw new RangeError(`unsupported SRTP protection profile ${profile}`);
}

function fastPathOf(binding: Binding): FastPath {
  return {
    srtpContext: (keys, use = 'protect') => binding.srtpContext(keys.profile, keys.key, keys.salt, keys.authKey, use === 'unprotect'),
    unprotect: (context, buffer, roc) => binding.unprotect(context, buffer, roc),
    tagLength,
    protect: (context, buffer, offset, headerLength, length, roc) => binding.protect(context, buffer, offset, headerLength, length, roc),
    protectRtcp: (context, buffer, length, index) => binding.protectRtcp(context, buffer, length, index),
    unprotectRtcp: (context, buffer) => binding.unprotectRtcp(context, buffer),
    srtcpOverhead: (profile) => 4 + tagLength(profile),
    batchFor: (socket, options) => {
      const fd = socketFd(socket);
      return fd === undefined ? undefined : new DatagramBatch(binding, fd, options);
    },
  };
}

/**
 * The file descriptor of a bound dgram socket (Unix). dgram keeps its handle
 * under a symbol; `socket._handle` would say the same but is deprecated
 * (DEP0112) and warns.
 */
export function socketFd(socket: Socket): number | undefined {
  const state = Object.getOwnPropertySymbols(socket)
    .filter((symbol) => symbol.description === 'state symbol')
    .map((symbol) => (socket as unknown as Record<symbol, { handle?: { fd?: unknown } }>)[symbol])[0];
  const fd = state?.handle?.fd;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : undefined;
}

/** Parses a literal IPv4 or IPv6 address (no zone) and port; throws a RangeError for anything else. */
export function destination(host: string, port: number): Destination {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`port ${port} is not 1-65535`);
  if (isIPv4(host)) {
    const [a, b, c, d] = host.split('.').map(Number) as [number, number, number, number];
    return { family: 4, port, words: [((a << 24) | (b << 16) | (c << 8) | d) >>> 0, 0, 0, 0] };
  }
  if (!isIPv6(host) || host.includes('%')) throw new RangeError(`"${host}" is not a literal IP address`);
  return { family: 6, port, words: ipv6Words(host) };
}

function ipv6Words(host: string): [number, number, number, number] {
  // An embedded IPv4 tail ("::ffff:1.2.3.4") becomes two groups first.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  let text = host;
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${host.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...headGroups, ...new Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups].map((g) => parseInt(g, 16));
  const words: [number, number, number, number] = [0, 0, 0, 0];
  for (let w = 0; w < 4; w++) words[w] = (((groups[2 * w] as number) << 16) | (groups[2 * w + 1] as number)) >>> 0;
  return words;
}

export interface DatagramBatchOptions {
  /** Bytes of datagrams one batch holds before it is sent early. Default 256 KiB. */
  arenaBytes?: number;
  /** Datagrams one batch holds before it is sent early. Default 512. */
  maxDatagrams?: number;
}

/** Counters of a batch since it was made. */
export interface DatagramBatchStats {
  /** Datagrams the kernel took. */
  sent: number;
  /** Datagrams queued but not sent: the socket's buffer was full or the kernel refused the destination. */
  dropped: number;
  /** sendBatch calls (each one sendmmsg per 64 datagrams). */
  flushes: number;
}

/**
 * Datagrams queued during one turn of the event loop's work (one received
 * packet's fan-out, typically) and sent together at its end, in a microtask,
 * or earlier when the batch is full. RTP queued with a context is protected
 * by the addon in the batch's own memory: the caller's buffer is free again as
 * soon as the call returns.
 */
export class DatagramBatch {
  private readonly arena: Buffer;
  private readonly descriptors: Uint32Array;
  private readonly contexts: (FastSrtpContext | undefined)[];
  private readonly maxDatagrams: number;
  private count = 0;
  private used = 0;
  private scheduled = false;
  private isClosed = false;
  private readonly counters: DatagramBatchStats = { sent: 0, dropped: 0, flushes: 0 };
  private readonly flushTask = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(
    private readonly binding: Binding,
    private readonly fd: number,
    options: DatagramBatchOptions = {},
  ) {
    this.arena = Buffer.alloc(options.arenaBytes ?? 256 * 1024);
    this.maxDatagrams = options.maxDatagrams ?? 512;
    this.descriptors = new Uint32Array(this.maxDatagrams * DESCRIPTOR_WORDS);
    this.contexts = new Array<FastSrtpContext | undefined>(this.maxDatagrams).fill(undefined);
  }

  stats(): DatagramBatchStats {
    return { ...this.counters };
  }

  /**
   * Queues the RTP packet in `plain[0, length)` (header of `headerLength`
   * bytes) to be protected with `context` and rollover counter `roc`.
   * @returns the datagram's length once protected
   */
  queueRtp(context: FastSrtpContext, tagLength: number, plain: Buffer, headerLength: number, length: number, roc: number, to: Destination): number {
    const offset = this.reserve(length + tagLength);
    if (offset < 0) return length + tagLength;
    plain.copy(this.arena, offset, 0, length);
    this.describe(offset, length, headerLength, roc, to, context);
    return length + tagLength;
  }

  /** Queues a finished datagram. */
  queue(datagram: Buffer, to: Destination): void {
    const offset = this.reserve(datagram.length);
    if (offset < 0) return;
    datagram.copy(this.arena, offset);
    this.describe(offset, datagram.length, 0, 0, to, undefined);
  }

  /** Sends what is queued now. */
  flush(): void {
    const count = this.count;
    if (count === 0) return;
    this.count = 0;
    this.used = 0;
    const sent = this.isClosed ? 0 : this.binding.sendBatch(this.fd, this.arena, this.descriptors, this.contexts, count);
    this.counters.flushes++;
    this.counters.sent += sent;
    this.counters.dropped += count - sent;
    this.contexts.fill(undefined, 0, count);
  }

  /**
   * Sends what is queued and stops: call it before the socket closes (its
   * descriptor number may be given to another file right after). Later
   * datagrams are counted as dropped.
   */
  close(): void {
    this.flush();
    this.isClosed = true;
  }

  /** Arena offset for `bytes` more, flushing first when full; -1 when it can never fit. */
  private reserve(bytes: number): number {
    if (this.isClosed || bytes > this.arena.length) {
      this.counters.dropped++;
      return -1;
    }
    if (this.count === this.maxDatagrams || this.used + bytes > this.arena.length) this.flush();
    const offset = this.used;
    // Keep each datagram 8-byte aligned.
    this.used += (bytes + 7) & ~7;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushTask);
    }
    return offset;
  }

  private describe(offset: number, length: number, headerLength: number, roc: number, to: Destination, context: FastSrtpContext | undefined): void {
    const at = this.count * DESCRIPTOR_WORDS;
    const d = this.descriptors;
    d[at] = offset;
    d[at + 1] = length;
    d[at + 2] = headerLength;
    d[at + 3] = roc;
    d[at + 4] = to.family;
    d[at + 5] = to.port;
    d[at + 6] = to.words[0];
    d[at + 7] = to.words[1];
    d[at + 8] = to.words[2];
    d[at + 9] = to.words[3];
    this.contexts[this.count] = context;
    this.count++;
  }
}

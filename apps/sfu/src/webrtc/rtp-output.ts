import { performance } from 'node:perf_hooks';
import type { FastPath, FastSrtpContext } from '@meetedge/fastpath';
import { RTP_EXTENSION_URI, RtcpSenderInfo, RtcpSrPacket, type Address, type RTCDtlsTransport, type RTCRtpTransceiver } from 'werift';
import { RolloverCounter, SrtpProtector, localSrtpKeys } from './srtp';
import { MuxedUdpTransport } from './udp-mux';

// The forwarding path's way out (docs/performance.md). werift's
// RTCRtpSender.sendRtp() takes an RtpPacket object, rewrites it, maps header
// extensions through arrays of objects, computes an NTP time with string
// arithmetic and BigInt, serializes, and encrypts with three more copies: per
// packet and per subscriber. An RtpOutput writes the subscriber's packet once
// into a scratch buffer (header and extension block from a template), protects
// it with SrtpProtector into the datagram and hands that to the connection's
// ICE transport. It keeps the werift sender's counters current for werift's
// stats, builds the sender report (SR) of its stream for the connection's one
// compound report a second (participant.ts; werift's own loop would send one
// SR per sender and keep sending for paused ones: 7,000 a second at 400
// participants), and resends NACKed packets itself (as RTX when the
// subscriber negotiated it), since werift's history of sent packets no longer
// sees them.

/** Largest RTP payload forwarded (an Ethernet MTU; larger packets are dropped and counted). */
export const MAX_RTP_PAYLOAD = 1500;

/** The werift sender state the forwarding path reads and keeps current (werift 0.24.4; partly private in its typings). */
interface SenderInternals {
  readonly ssrc: number;
  readonly dtlsTransport: RTCDtlsTransport;
  headerExtensions?: readonly { id: number; uri: string }[];
  rtxPayloadType?: number;
  rtxSsrc: number;
  ntpTimestamp: bigint;
  rtpTimestamp: number;
  octetCount: number;
  packetCount: number;
}

/** What the forwarding path uses of werift's ICE connection (werift 0.24.4; partly private in its typings). */
interface IceInternals {
  nominated?: { protocol: { transport: unknown }; remoteAddr: Address; packetsSent: number; bytesSent: number };
  /** RFC 7675 consent: false once the remote stopped answering consent checks. */
  canSendApplicationData(): boolean;
  /** Async; it rejects when no pair is nominated. */
  send(data: Buffer): Promise<void>;
}

const ignore = (): void => undefined;
const NTP_EPOCH_OFFSET_S = 2_208_988_800;
/** Sender-report time pairs (NTP, RTP timestamp) are refreshed at most this often. */
const SR_REFRESH_MS = 20;

/** NTP time (RFC 5905 64-bit) of `epochMs`. */
export function ntpTimestamp(epochMs: number): bigint {
  const seconds = Math.floor(epochMs / 1000);
  const fraction = Math.floor(((epochMs - seconds * 1000) / 1000) * 0x1_0000_0000);
  return (BigInt(seconds + NTP_EPOCH_OFFSET_S) << 32n) | BigInt(fraction >>> 0);
}

/** abs-send-time (6.18 fixed-point seconds, 24 bits) of a monotonic time in ms. */
export function absSendTime(nowMs: number): number {
  return Math.floor((nowMs / 1000) * 262_144) & 0xffffff;
}

/** Header extension block written into every packet of an output. */
interface ExtensionTemplate {
  /** The block (0xBEDE profile, length, elements, padding); empty when none. */
  bytes: Buffer;
  /** Offset of the abs-send-time value inside `bytes`, or -1. */
  absSendTimeOffset: number;
  /** Offset of the audio-level byte (RFC 6464) inside `bytes`, or -1. */
  audioLevelOffset: number;
}

/** RFC 6464 audio level of a packet whose level is unknown: silence. */
export const SILENT_AUDIO_LEVEL = 127;

/**
 * Builds the one-byte-header extension block (RFC 8285) with the mid, an
 * abs-send-time slot and an audio-level slot (when negotiated: a media server
 * behind a cascade link ranks speakers by it).
 */
export function extensionTemplate(extensions: readonly { id: number; uri: string }[], mid: string | undefined): ExtensionTemplate {
  const elements: number[] = [];
  let absSendTimeOffset = -1;
  let audioLevelOffset = -1;
  const midBytes = mid ? Buffer.from(mid, 'utf8') : undefined;
  for (const { id, uri } of extensions) {
    if (id < 1 || id > 14) continue;
    if (uri === RTP_EXTENSION_URI.sdesMid && midBytes && midBytes.length >= 1 && midBytes.length <= 16) {
      elements.push((id << 4) | (midBytes.length - 1), ...midBytes);
    } else if (uri === RTP_EXTENSION_URI.absSendTime) {
      elements.push((id << 4) | 2);
      absSendTimeOffset = 4 + elements.length;
      elements.push(0, 0, 0);
    } else if (uri === RTP_EXTENSION_URI.audioLevelIndication) {
      elements.push(id << 4);
      audioLevelOffset = 4 + elements.length;
      elements.push(SILENT_AUDIO_LEVEL);
    }
  }
  if (elements.length === 0) return { bytes: Buffer.alloc(0), absSendTimeOffset: -1, audioLevelOffset: -1 };
  while (elements.length % 4 !== 0) elements.push(0);
  const bytes = Buffer.alloc(4 + elements.length);
  bytes.writeUInt16BE(0xbede, 0);
  bytes.writeUInt16BE(elements.length / 4, 2);
  bytes.set(elements, 4);
  return { bytes, absSendTimeOffset, audioLevelOffset };
}

/** Sends RTP on one werift sender's transport without werift's per-packet objects. */
export class RtpOutput {
  /** Scratch for the next packet: write the payload at `headerLength`, then `send`. */
  readonly buffer = Buffer.alloc(12 + 4 + 64 + MAX_RTP_PAYLOAD);
  /** Packets and bytes (RTP header and payload) sent, retransmissions included. */
  packetsSent = 0;
  bytesSent = 0;
  retransmitted = 0;
  private template: ExtensionTemplate = { bytes: Buffer.alloc(0), absSendTimeOffset: -1, audioLevelOffset: -1 };
  private templateOf: unknown;
  private templateMid: string | undefined;
  private protector: SrtpProtector | undefined;
  private protectorOf: unknown;
  /** The fast path's keyed context (libs/fastpath), for the session `fastOf`. */
  private fast: { context: FastSrtpContext; tagLength: number } | undefined;
  private fastOf: unknown;
  private readonly roc = new RolloverCounter();
  private readonly rtxRoc = new RolloverCounter();
  private rtxSequenceNumber = Math.floor(Math.random() * 0x10000);
  private srRefreshedMs = Number.NEGATIVE_INFINITY;
  /** Sent since the last sender report (a stream that sent nothing gets none: RFC 3550 §6.4). */
  private sentSinceReport = false;

  constructor(private readonly transceiver: RTCRtpTransceiver) {}

  private get sender(): SenderInternals {
    return this.transceiver.sender as unknown as SenderInternals;
  }

  /** Bytes before the payload in `buffer`: the fixed header and the extension block. */
  get headerLength(): number {
    this.refreshTemplate();
    return 12 + this.template.bytes.length;
  }

  private refreshTemplate(): void {
    const extensions = this.sender.headerExtensions;
    const mid = this.transceiver.mid ?? undefined;
    if (extensions === this.templateOf && mid === this.templateMid) return;
    this.templateOf = extensions;
    this.templateMid = mid;
    this.template = extensionTemplate(extensions ?? [], mid);
  }

  /**
   * Sends the packet whose payload (`payloadLength` bytes) was written into
   * `buffer` at `headerLength`, with the given header fields and, for audio,
   * the publisher's audio level (RFC 6464, 0 loud … 127 silent).
   * @returns false when it could not be sent (transport not up yet)
   */
  send(marker: boolean, payloadType: number, sequenceNumber: number, timestamp: number, payloadLength: number, audioLevel = SILENT_AUDIO_LEVEL): boolean {
    const sender = this.sender;
    const length = this.writeHeader(marker, payloadType, sequenceNumber, timestamp, sender.ssrc, payloadLength, audioLevel);
    if (!this.transmit(length, this.roc.of(sequenceNumber))) return false;
    this.packetsSent++;
    this.bytesSent += length;
    sender.packetCount = (sender.packetCount + 1) >>> 0;
    sender.octetCount = (sender.octetCount + payloadLength) >>> 0;
    const nowMs = performance.now();
    if (nowMs - this.srRefreshedMs >= SR_REFRESH_MS) {
      // An SR pairs an NTP time with the RTP timestamp of the same instant.
      this.srRefreshedMs = nowMs;
      sender.ntpTimestamp = ntpTimestamp(performance.timeOrigin + nowMs);
      sender.rtpTimestamp = timestamp;
    }
    this.sentSinceReport = true;
    return true;
  }

  /** This stream's sender report, if it sent since the last one; undefined otherwise. */
  senderReport(): RtcpSrPacket | undefined {
    if (!this.sentSinceReport) return undefined;
    this.sentSinceReport = false;
    const sender = this.sender;
    return new RtcpSrPacket({
      ssrc: sender.ssrc,
      senderInfo: new RtcpSenderInfo({
        ntpTimestamp: sender.ntpTimestamp,
        rtpTimestamp: sender.rtpTimestamp,
        packetCount: sender.packetCount,
        octetCount: sender.octetCount,
      }),
    });
  }

  /**
   * Resends `packet` (an RTP packet as the subscriber first got it, e.g. from
   * NackResponder): as RTX (RFC 4588) when negotiated, else as it was.
   */
  resend(packet: Buffer, headerLength: number, payloadType: number): boolean {
    const payloadLength = packet.length - headerLength;
    if (payloadLength < 0 || payloadLength + 2 > MAX_RTP_PAYLOAD) return false;
    const marker = ((packet[1] as number) & 0x80) !== 0;
    const sequenceNumber = packet.readUInt16BE(2);
    const timestamp = packet.readUInt32BE(4);
    const rtxPayloadType = this.rtxPayloadTypeFor(payloadType);
    const offset = this.headerLength;
    let sent: boolean;
    if (rtxPayloadType === undefined) {
      packet.copy(this.buffer, offset, headerLength);
      const length = this.writeHeader(marker, payloadType, sequenceNumber, timestamp, this.sender.ssrc, payloadLength);
      sent = this.transmit(length, this.roc.of(sequenceNumber));
    } else {
      // RTX payload: the original sequence number, then the original payload.
      this.buffer.writeUInt16BE(sequenceNumber, offset);
      packet.copy(this.buffer, offset + 2, headerLength);
      const rtxSeq = this.rtxSequenceNumber;
      this.rtxSequenceNumber = (rtxSeq + 1) & 0xffff;
      const length = this.writeHeader(marker, rtxPayloadType, rtxSeq, timestamp, this.sender.rtxSsrc, payloadLength + 2);
      sent = this.transmit(length, this.rtxRoc.of(rtxSeq));
    }
    if (sent) {
      this.retransmitted++;
      this.packetsSent++;
      this.bytesSent += payloadLength + headerLength;
    }
    return sent;
  }

  private readonly rtxByPayloadType = new Map<number, number | undefined>();

  /** The RTX payload type whose apt is `payloadType`, if the subscriber negotiated one. */
  private rtxPayloadTypeFor(payloadType: number): number | undefined {
    if (this.sender.rtxPayloadType === undefined) return undefined;
    if (!this.rtxByPayloadType.has(payloadType)) {
      const rtx = this.transceiver.codecs.find(
        (c) => c.mimeType.toLowerCase().endsWith('/rtx') && /(?:^|;)\s*apt=(\d+)/.exec(c.parameters ?? '')?.[1] === String(payloadType),
      );
      this.rtxByPayloadType.set(payloadType, rtx?.payloadType);
    }
    return this.rtxByPayloadType.get(payloadType);
  }

  private writeHeader(
    marker: boolean,
    payloadType: number,
    sequenceNumber: number,
    timestamp: number,
    ssrc: number,
    payloadLength: number,
    audioLevel = SILENT_AUDIO_LEVEL,
  ): number {
    this.refreshTemplate();
    const buf = this.buffer;
    const extensions = this.template.bytes;
    buf[0] = extensions.length > 0 ? 0x90 : 0x80;
    buf[1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
    buf.writeUInt16BE(sequenceNumber & 0xffff, 2);
    buf.writeUInt32BE(timestamp >>> 0, 4);
    buf.writeUInt32BE(ssrc >>> 0, 8);
    if (extensions.length > 0) {
      buf.set(extensions, 12);
      const at = this.template.absSendTimeOffset;
      if (at >= 0) {
        const value = absSendTime(performance.now());
        buf[12 + at] = value >>> 16;
        buf[13 + at] = (value >>> 8) & 0xff;
        buf[14 + at] = value & 0xff;
      }
      const levelAt = this.template.audioLevelOffset;
      if (levelAt >= 0) buf[12 + levelAt] = audioLevel & 0x7f;
    }
    return 12 + extensions.length + payloadLength;
  }

  private transmit(length: number, roc: number): boolean {
    const dtls = this.sender.dtlsTransport;
    if (dtls.state !== 'connected') return false;
    const session = dtls.srtp as unknown;
    const headerLength = 12 + this.template.bytes.length;
    const ice = dtls.iceTransport.connection as unknown as IceInternals;
    const pair = ice.nominated;
    const transport = pair?.protocol.transport;
    let size: number;
    if (pair && transport instanceof MuxedUdpTransport) {
      // The shared port: straight to the socket, as werift's send would after its checks.
      if (!ice.canSendApplicationData()) return false;
      const fastPath = transport.fastPath;
      if (fastPath) {
        // Protected by the addon and sent with this turn's other datagrams (one sendmmsg).
        const fast = this.fastContext(fastPath, session);
        size = transport.sendRtpTo(fast.context, fast.tagLength, this.buffer, headerLength, length, roc, pair.remoteAddr);
      } else {
        const datagram = this.protectorFor(session).protect(this.buffer, headerLength, length, roc);
        transport.sendTo(datagram, pair.remoteAddr);
        size = datagram.length;
      }
      pair.packetsSent++;
      pair.bytesSent += size;
    } else {
      const datagram = this.protectorFor(session).protect(this.buffer, headerLength, length, roc);
      ice.send(datagram).catch(ignore);
      size = datagram.length;
    }
    dtls.bytesSent += size;
    dtls.packetsSent++;
    return true;
  }

  /** The protector of the DTLS session's keys: new keys (first packet, or a new DTLS session), a new protector. */
  private protectorFor(session: unknown): SrtpProtector {
    if (session !== this.protectorOf || !this.protector) {
      this.protector = new SrtpProtector(localSrtpKeys(session));
      this.protectorOf = session;
    }
    return this.protector;
  }

  /** The fast path's context of the DTLS session's keys, made again when the session changes. */
  private fastContext(fastPath: FastPath, session: unknown): { context: FastSrtpContext; tagLength: number } {
    if (session !== this.fastOf || !this.fast) {
      const keys = localSrtpKeys(session);
      this.fast = { context: fastPath.srtpContext(keys), tagLength: fastPath.tagLength(keys.profile) };
      this.fastOf = session;
    }
    return this.fast;
  }
}

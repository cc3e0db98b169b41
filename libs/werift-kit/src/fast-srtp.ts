import type { FastPath } from '@meetedge/fastpath';
import type { SrtcpCodecFactory, SrtpRtpDecryptorFactory } from 'werift';

// werift's SRTP and SRTCP on the native fast path (libs/fastpath, docs/fastpath.md):
// the codecs werift patches 012 and 015 take instead of its cipher per packet,
// for any werift connection (the module's, the bench's clients').

/**
 * The rollover counter of one received SSRC, estimated per packet as RFC 3711
 * Appendix A says and advanced only by packets that authenticated, so a
 * forged packet cannot move it.
 */
export class ReceiveRollover {
  private roc = 0;
  /** Highest sequence number authenticated so far (s_l). */
  private highest: number;

  constructor(firstSeq: number) {
    this.highest = firstSeq;
  }

  /** The ROC (v) the packet numbered `seq` was most likely sent with. */
  estimate(seq: number): number {
    const roc = this.roc;
    if (this.highest < 0x8000) return seq - this.highest > 0x8000 && roc > 0 ? roc - 1 : roc;
    return this.highest - 0x8000 > seq ? (roc + 1) >>> 0 : roc;
  }

  /** The packet numbered `seq`, sent with `roc` (from `estimate`), authenticated. */
  commit(seq: number, roc: number): void {
    if (roc === ((this.roc + 1) >>> 0)) {
      this.roc = roc;
      this.highest = seq;
    } else if (roc === this.roc && seq > this.highest) {
      this.highest = seq;
    }
  }
}

/** SSRCs whose rollover counters one connection keeps; past it the oldest is forgotten. */
const MAX_RECEIVED_SSRCS = 64;

/**
 * werift's `srtpRtpDecryptorFactory` (patch 012) on the native fast path:
 * received SRTP is authenticated and decrypted in place with a context keyed
 * once per session, instead of werift's cipher per packet and its copies.
 * What does not authenticate (or is not RTP) is dropped, as werift drops it.
 */
export function fastRtpDecryptor(fastPath: FastPath): SrtpRtpDecryptorFactory {
  return (keys) => {
    const context = fastPath.srtpContext(keys, 'unprotect');
    const rollovers = new Map<number, ReceiveRollover>();
    return (datagram) => {
      if (datagram.length < 12) return undefined;
      const ssrc = datagram.readUInt32BE(8);
      const seq = datagram.readUInt16BE(2);
      const known = rollovers.get(ssrc);
      const roc = known ? known.estimate(seq) : 0;
      const length = fastPath.unprotect(context, datagram, roc);
      if (length < 0) return undefined;
      if (known) {
        known.commit(seq, roc);
      } else {
        if (rollovers.size >= MAX_RECEIVED_SSRCS) rollovers.delete(rollovers.keys().next().value as number);
        rollovers.set(ssrc, new ReceiveRollover(seq));
      }
      return datagram.subarray(0, length);
    };
  };
}

/** The highest SRTCP index (31 bits, RFC 3711 §3.4); past it the session must be keyed again. */
const SRTCP_INDEX_MAX = 0x7fff_ffff;

/**
 * werift's `srtcpCodecFactory` (patch 015) on the native fast path: SRTCP
 * both ways with contexts keyed once per session, instead of werift's cipher
 * (and for AES-CM an HMAC) per packet and its copies. Sent packets are
 * numbered by one counter for the whole session: the IV is made of the
 * sender SSRC and the index, so an (SSRC, index) pair is never used twice
 * under a key however many SSRCs send (a counter per SSRC in a bounded table
 * would restart a forgotten SSRC at 0 and reuse its IVs), and each SSRC's
 * indices still only grow, which is all a receiver's replay check asks.
 * Received packets are authenticated and decrypted in place; what does not
 * authenticate is dropped, as werift drops it.
 */
export function fastSrtcpCodec(fastPath: FastPath): SrtcpCodecFactory {
  return ({ local, remote }) => {
    const protect = fastPath.srtpContext(local);
    const unprotect = fastPath.srtpContext(remote, 'unprotect');
    const overhead = fastPath.srtcpOverhead(local.profile);
    let nextIndex = 0;
    return {
      encrypt: (rtcp) => {
        // 2^31 packets under one key: never wrap (that would reuse IVs); werift's sendRtcp rejects.
        if (nextIndex > SRTCP_INDEX_MAX) throw new RangeError('SRTCP index exhausted: the DTLS session must be keyed again');
        const datagram = Buffer.allocUnsafe(rtcp.length + overhead);
        rtcp.copy(datagram);
        // Throws (ERR_FASTPATH_BOUNDS) for what is not an RTCP packet, before the index is spent.
        const length = fastPath.protectRtcp(protect, datagram, rtcp.length, nextIndex);
        nextIndex++;
        return datagram.subarray(0, length);
      },
      decrypt: (datagram) => {
        const length = fastPath.unprotectRtcp(unprotect, datagram);
        return length < 0 ? undefined : datagram.subarray(0, length);
      },
    };
  };
}

import { RtcpRrPacket, type RtcpReceiverInfo, type RtcpSrPacket, type RTCPeerConnection } from 'werift';

// One RTCP report a second per connection (RFC 3550 §6.1, §6.4): the sender
// reports of the streams the module sent on it, then receiver reports with
// the reception report blocks of every stream it received, all in one
// compound packet. werift's receivers would each run a timer and send a
// receiver report of their own (a timer, an SRTCP packet and a datagram per
// receiving section per second); the module's connections turn that loop
// off (patch 017, `receiverReportLoop: false`) and report here instead.
// The blocks ride in RR packets, not inside the SRs: werift routes an SR to
// the receiver of its sender SSRC and reads no blocks from it, so a werift
// peer (the Node SDK, a cascade link's far end) would lose them there.

/** Report blocks one SR or RR can carry (a 5-bit count). */
export const MAX_REPORT_BLOCKS = 31;
/** Bytes of RTCP per datagram, so that a compound packet never needs IP fragments. */
export const MAX_COMPOUND_BYTES = 1200;

const SR_BYTES = 28;
const RR_BYTES = 8;
const BLOCK_BYTES = 24;

function sizeOf(packet: RtcpSrPacket | RtcpRrPacket): number {
  return (packet instanceof RtcpRrPacket ? RR_BYTES : SR_BYTES) + BLOCK_BYTES * packet.reports.length;
}

/**
 * The compound packets of one report: `senderReports`, then `blocks` in
 * receiver reports from `reporterSsrc`, up to 31 blocks each, grouped into
 * compounds of at most MAX_COMPOUND_BYTES, each starting with an SR or RR as
 * RFC 3550 §6.1 asks. Empty when there is nothing to report.
 */
export function compoundReports(senderReports: readonly RtcpSrPacket[], blocks: readonly RtcpReceiverInfo[], reporterSsrc: number): (RtcpSrPacket | RtcpRrPacket)[][] {
  const packets: (RtcpSrPacket | RtcpRrPacket)[] = [...senderReports];
  for (let next = 0; next < blocks.length; next += MAX_REPORT_BLOCKS) {
    packets.push(new RtcpRrPacket({ ssrc: reporterSsrc, reports: blocks.slice(next, next + MAX_REPORT_BLOCKS) }));
  }
  const compounds: (RtcpSrPacket | RtcpRrPacket)[][] = [];
  let current: (RtcpSrPacket | RtcpRrPacket)[] = [];
  let bytes = 0;
  for (const packet of packets) {
    const size = sizeOf(packet);
    if (current.length > 0 && bytes + size > MAX_COMPOUND_BYTES) {
      compounds.push(current);
      current = [];
      bytes = 0;
    }
    current.push(packet);
    bytes += size;
  }
  if (current.length > 0) compounds.push(current);
  return compounds;
}

/** The reception report blocks of every receiving section of a connection. */
export function receptionReports(peer: RTCPeerConnection): RtcpReceiverInfo[] {
  const blocks: RtcpReceiverInfo[] = [];
  for (const transceiver of peer.getTransceivers()) blocks.push(...transceiver.receiver.receptionReports());
  return blocks;
}

/**
 * Sends a connection's report about once a second, at a random phase so
 * that connections do not report in step (RFC 3550 §6.2), while it is
 * connected. `senderReports` gives the SRs of the streams sent since the
 * last report.
 */
export class ConnectionReporter {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly peer: RTCPeerConnection,
    private readonly senderReports: () => RtcpSrPacket[],
    intervalMs = 1000,
  ) {
    this.timer = setTimeout(() => {
      this.report();
      this.timer = setInterval(() => this.report(), intervalMs);
      this.timer.unref();
    }, Math.random() * intervalMs);
    this.timer.unref();
  }

  /** Builds and sends one report now (the timer calls it). */
  report(): void {
    const peer = this.peer;
    if (this.closed || peer.connectionState !== 'connected') return;
    const transport = peer.dtlsTransports[0];
    if (!transport) return;
    const transceivers = peer.getTransceivers();
    const reporterSsrc = transceivers[0]?.receiver.rtcpSsrc ?? 0;
    for (const compound of compoundReports(this.senderReports(), receptionReports(peer), reporterSsrc)) {
      void transport.sendRtcp(compound).catch(() => undefined);
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.timer);
  }
}

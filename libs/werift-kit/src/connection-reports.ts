import {
  RtcpRrPacket,
  RtcpSourceDescriptionPacket,
  SourceDescriptionChunk,
  SourceDescriptionItem,
  type RtcpReceiverInfo,
  type RtcpSrPacket,
  type RTCPeerConnection,
} from 'werift';

// One RTCP report about once a second per connection (RFC 3550 §6.1, §6.4):
// the sender reports of the streams sent on it, then receiver reports with
// the reception report blocks of the streams heard on it since the last
// report, then an SDES CNAME, in one compound packet. werift's receivers
// would each run a timer and send a receiver report of their own (a timer,
// an SRTCP packet and a datagram per receiving section per second); a
// connection built with `receiverReportLoop: false` (patch 017) reports here
// instead. The blocks ride in RR packets, not inside the SRs: werift routes
// an SR to the receiver of its sender SSRC and reads no blocks from it, so a
// werift peer (the Node SDK, a cascade link's far end) would lose them.

/** Report blocks one SR or RR can carry (a 5-bit count). */
export const MAX_REPORT_BLOCKS = 31;
/** Bytes of RTCP per datagram, so that a compound packet never needs IP fragments. */
export const MAX_COMPOUND_BYTES = 1200;

const SR_BYTES = 28;
const RR_BYTES = 8;
const BLOCK_BYTES = 24;
/** SDES item type of the canonical name (RFC 3550 §6.5.1). */
const SDES_CNAME = 1;

type Report = RtcpSrPacket | RtcpRrPacket;

function sizeOf(packet: Report): number {
  return (packet instanceof RtcpRrPacket ? RR_BYTES : SR_BYTES) + BLOCK_BYTES * packet.reports.length;
}

/**
 * The compound packets of one report: `senderReports`, then `blocks` in
 * receiver reports from `reporterSsrc`, up to 31 blocks each, grouped into
 * datagrams of at most MAX_COMPOUND_BYTES. Each starts with an SR or RR and,
 * given a `cname`, ends with an SDES CNAME for `reporterSsrc`, as RFC 3550
 * §6.1 asks of every compound packet. Empty when there is nothing to report.
 */
export function compoundReports(
  senderReports: readonly RtcpSrPacket[],
  blocks: readonly RtcpReceiverInfo[],
  reporterSsrc: number,
  cname?: string,
): (Report | RtcpSourceDescriptionPacket)[][] {
  const reports: Report[] = [...senderReports];
  for (let next = 0; next < blocks.length; next += MAX_REPORT_BLOCKS) {
    reports.push(new RtcpRrPacket({ ssrc: reporterSsrc, reports: blocks.slice(next, next + MAX_REPORT_BLOCKS) }));
  }
  const sdes =
    cname === undefined
      ? undefined
      : new RtcpSourceDescriptionPacket({
          chunks: [new SourceDescriptionChunk({ source: reporterSsrc, items: [new SourceDescriptionItem({ type: SDES_CNAME, text: cname })] })],
        });
  const budget = MAX_COMPOUND_BYTES - (sdes ? sdes.serialize().length : 0);
  const compounds: (Report | RtcpSourceDescriptionPacket)[][] = [];
  let current: (Report | RtcpSourceDescriptionPacket)[] = [];
  let bytes = 0;
  const finish = () => {
    if (sdes) current.push(sdes);
    compounds.push(current);
    current = [];
    bytes = 0;
  };
  for (const report of reports) {
    const size = sizeOf(report);
    if (current.length > 0 && bytes + size > budget) finish();
    current.push(report);
    bytes += size;
  }
  if (current.length > 0) finish();
  return compounds;
}

/** The reception report blocks of every receiving section of a connection (every SSRC it ever heard). */
export function receptionReports(peer: RTCPeerConnection): RtcpReceiverInfo[] {
  const blocks: RtcpReceiverInfo[] = [];
  for (const transceiver of peer.getTransceivers()) blocks.push(...transceiver.receiver.receptionReports());
  return blocks;
}

/** Something sent on the connection that may have a sender report to give (a receive slot's stream). */
export interface SenderReportSource {
  /** The stream's SR if it sent since the last one. */
  senderReport(): RtcpSrPacket | undefined;
}

/**
 * Reports for one connection while it is connected, every 0.5–1.5 ×
 * `intervalMs` (randomized each time so that connections never report in
 * step, RFC 3550 §6.3.1): the SRs of `sources`, and, when the connection's
 * receivers do not report themselves (`receiverReportLoop: false`), a block
 * for each SSRC heard since the last report. Stops at `close()` or when the
 * connection closes.
 */
export class ConnectionReporter {
  private timer: NodeJS.Timeout | undefined;
  private isClosed = false;
  /** Whether the connection's receivers leave their reports to this reporter (werift's loop is off). */
  private readonly reportsReception: boolean;
  /** The extended highest sequence number each SSRC had at the last report: a block is sent only when it moved. */
  private readonly lastHighest = new Map<number, number>();

  constructor(
    private readonly peer: RTCPeerConnection,
    private readonly sources: () => Iterable<SenderReportSource>,
    /** Mean time between reports, ms. Default 1000. */
    private readonly intervalMs = 1000,
  ) {
    this.reportsReception = peer.config.receiverReportLoop === false;
    peer.connectionStateChange.subscribe((state) => {
      if (state === 'closed') this.close();
    });
    this.schedule();
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.report();
      if (!this.isClosed) this.schedule();
    }, this.intervalMs * (0.5 + Math.random()));
    this.timer.unref();
  }

  /** Builds and sends one report now, if the connection is up (the timer calls it). */
  report(): void {
    const peer = this.peer;
    if (this.isClosed || peer.connectionState !== 'connected') return;
    const transport = peer.dtlsTransports[0];
    if (!transport) return;
    const senderReports: RtcpSrPacket[] = [];
    for (const source of this.sources()) {
      const report = source.senderReport();
      if (report) senderReports.push(report);
    }
    const blocks = this.reportsReception ? this.heardSinceLastReport(receptionReports(peer)) : [];
    // The reporter: the first stream sent, else the first section's RTCP SSRC (werift gives it the section's sender SSRC).
    const reporterSsrc = senderReports[0]?.ssrc ?? peer.getTransceivers()[0]?.receiver.rtcpSsrc ?? 0;
    for (const compound of compoundReports(senderReports, blocks, reporterSsrc, peer.cname)) {
      void transport.sendRtcp(compound).catch(() => undefined);
    }
  }

  /** The blocks of SSRCs whose highest sequence number moved since the last report (RFC 3550 §6.4: sources heard since then). */
  private heardSinceLastReport(blocks: RtcpReceiverInfo[]): RtcpReceiverInfo[] {
    const heard = blocks.filter((block) => this.lastHighest.get(block.ssrc) !== block.highestSequence);
    this.lastHighest.clear();
    for (const block of blocks) this.lastHighest.set(block.ssrc, block.highestSequence);
    return heard;
  }

  /** True once closed, by `close()` or by its connection closing. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Stops reporting; idempotent. */
  close(): void {
    this.isClosed = true;
    clearTimeout(this.timer);
  }
}

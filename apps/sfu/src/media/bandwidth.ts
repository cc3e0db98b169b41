/**
 * Bandwidth accounting (docs/cascade.md, "Bandwidth accounting"): what a
 * media server moves on its client links (participants' connections) and on
 * its cascade links, and from that what leaves the company network and what
 * would have left without the module.
 *
 * Counting happens on the packet path, so it is plain number increments on
 * objects made once: a published track and a subscription each hold the
 * TrafficCounters of the path they belong to (their meeting's client
 * traffic, or their cascade link's). Everything else here runs when stats
 * are read.
 */
import { LINK_SCOPES, type LinkScope, type ServerRole } from '@meetedge/cascade';
import type { MeetingMode } from '@meetedge/core';

/**
 * Packets and bytes of one path. A byte count is the RTP packet as the
 * module forwards it, 12-byte fixed header plus payload: header extensions,
 * SRTP's 10-byte tag, UDP/IP (28 bytes over IPv4), RTCP and retransmissions
 * (counted apart, `packetsRetransmitted`) are not in it.
 */
export interface TrafficCounters {
  /** RTP packets received from the far end. */
  packetsIn: number;
  bytesIn: number;
  /** RTP packets forwarded to the far end. */
  packetsOut: number;
  bytesOut: number;
}

export function zeroTraffic(): TrafficCounters {
  return { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0 };
}

export function addTraffic(into: TrafficCounters, from: TrafficCounters): void {
  into.packetsIn += from.packetsIn;
  into.bytesIn += from.bytesIn;
  into.packetsOut += from.packetsOut;
  into.bytesOut += from.bytesOut;
}

/** What the links of one scope moved since start, and carry now. */
export interface ScopeTraffic extends TrafficCounters {
  /** Links open now. */
  links: number;
  /** Streams crossing them now, both directions. */
  streams: number;
}

/** What a meeting (or a module: the sum of its meetings) moved, by path. */
export interface MeetingTraffic {
  /** Client links: the local participants' connections. */
  readonly client: TrafficCounters;
  /** Cascade links by scope; bytes and packets of closed links included, so they never go down. */
  readonly cascade: Record<LinkScope, ScopeTraffic>;
}

export function zeroMeetingTraffic(): MeetingTraffic {
  return {
    client: zeroTraffic(),
    cascade: { 'north-south': { ...zeroTraffic(), links: 0, streams: 0 }, 'east-west': { ...zeroTraffic(), links: 0, streams: 0 } },
  };
}

/**
 * The bandwidth accounting of a meeting or a module (docs/cascade.md,
 * "Bandwidth accounting"): its traffic by path and what it means for the
 * company network's way out.
 */
export interface BandwidthStats extends MeetingTraffic {
  /** Streams crossing north-south links now (in + out). */
  externalStreams: number;
  /** Bytes sent and received on north-south links since start. */
  externalBytes: number;
  /**
   * Bytes the module's local participants of cloud-hybrid meetings sent and
   * received on their client links: without the module each of them would
   * have sent them to, and received them from, the cloud itself. Zero on the
   * cloud MMR and for internal-only meetings.
   */
  wouldHaveLeftBytes: number;
  /** max(0, wouldHaveLeftBytes − externalBytes): what the module kept inside the network. */
  savedBytes: number;
}

export function zeroBandwidth(): BandwidthStats {
  return { ...zeroMeetingTraffic(), externalStreams: 0, externalBytes: 0, wouldHaveLeftBytes: 0, savedBytes: 0 };
}

/** The accounting of one meeting, of `mode`, on a server of `role`. */
export function bandwidthOf(role: ServerRole, mode: MeetingMode, traffic: MeetingTraffic): BandwidthStats {
  const external = traffic.cascade['north-south'];
  const externalBytes = external.bytesIn + external.bytesOut;
  const wouldHaveLeftBytes = role === 'edge' && mode === 'cloud-hybrid' ? traffic.client.bytesIn + traffic.client.bytesOut : 0;
  return {
    client: { ...traffic.client },
    cascade: { 'north-south': { ...traffic.cascade['north-south'] }, 'east-west': { ...traffic.cascade['east-west'] } },
    externalStreams: external.streams,
    externalBytes,
    wouldHaveLeftBytes,
    savedBytes: Math.max(0, wouldHaveLeftBytes - externalBytes),
  };
}

/**
 * Adds a meeting's accounting into a module's. The module's saving is net
 * over its meetings (a meeting whose link costs more than its participants
 * would have sent counts against the others), so it is worked out again from
 * the sums rather than summed.
 */
export function addBandwidth(into: BandwidthStats, from: BandwidthStats): void {
  addTraffic(into.client, from.client);
  for (const scope of LINK_SCOPES) {
    const a = into.cascade[scope];
    const b = from.cascade[scope];
    addTraffic(a, b);
    a.links += b.links;
    a.streams += b.streams;
  }
  into.externalStreams += from.externalStreams;
  into.externalBytes += from.externalBytes;
  into.wouldHaveLeftBytes += from.wouldHaveLeftBytes;
  into.savedBytes = Math.max(0, into.wouldHaveLeftBytes - into.externalBytes);
}

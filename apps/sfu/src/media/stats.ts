/**
 * Counters of media a meeting (and the module, summed) moved. Plain numbers
 * bumped on the packet path; /metrics and the JSON stats read them.
 */
export interface MediaCounters {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  /** Packets a subscriber did not get because of the forwarding rules (paused, not loudest, waiting for a keyframe). */
  packetsDropped: number;
  /** NACK feedback packets received from subscribers (answered from the publishers' recent packets). */
  nacksReceived: number;
  /** Packets resent to subscribers in answer to their NACKs. */
  packetsRetransmitted: number;
  /** Packets lost on the way from publishers (RFC 3550: expected − received, per incoming stream). */
  packetsLostIn: number;
  /** Packets subscribers reported lost on the way from the module (their receiver reports' cumulative counts). */
  packetsLostOut: number;
  /** Keyframe requests (PLI) sent to publishers. */
  plisSent: number;
  /** Keyframe requests (PLI) received from subscribers. */
  plisReceived: number;
}

export function zeroCounters(): MediaCounters {
  return { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, packetsDropped: 0, nacksReceived: 0, packetsRetransmitted: 0, packetsLostIn: 0, packetsLostOut: 0, plisSent: 0, plisReceived: 0 };
}

export function addCounters(into: MediaCounters, from: MediaCounters): void {
  for (const key of Object.keys(into) as (keyof MediaCounters)[]) into[key] += from[key];
}

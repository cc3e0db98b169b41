/**
 * The little of SDP the session needs before handing an offer to werift:
 * each m-section's kind, mid and direction, so that a publication list can be
 * checked against the offer and receive slots counted. Anything werift would
 * choke on is refused here first with a message that says what is wrong.
 */
import { MeetedgeError } from '@meetedge/core';

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface MediaSection {
  readonly kind: 'audio' | 'video' | 'application';
  readonly mid: string;
  /** From the offerer's point of view. */
  readonly direction: Direction;
  /** Port 0: the offerer rejected or stopped this section. */
  readonly rejected: boolean;
  /** Simulcast rids the offerer sends (`a=rid:<id> send`), in order. */
  readonly sendRids: readonly string[];
}

const DIRECTIONS = new Set<string>(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

function invalid(message: string): MeetedgeError {
  return new MeetedgeError('INVALID_ARGUMENT', `invalid SDP: ${message}`);
}

/** Scans an offer's media sections; throws INVALID_ARGUMENT for SDP that is not a usable offer. */
export function scanOffer(sdp: string): MediaSection[] {
  const lines = sdp.split(/\r?\n/);
  if (lines[0] !== 'v=0') throw invalid('must start with "v=0"');
  const sections: MediaSection[] = [];
  let current: { kind: string; port: number; mid?: string; direction?: string; rids: string[] } | undefined;
  let sessionDirection: string | undefined;
  const finish = () => {
    if (!current) return;
    if (current.kind !== 'audio' && current.kind !== 'video' && current.kind !== 'application') {
      throw invalid(`unsupported media "${current.kind}"`);
    }
    if (current.mid === undefined) throw invalid(`an m=${current.kind} section has no a=mid`);
    if (sections.some((s) => s.mid === current?.mid)) throw invalid(`mid "${current.mid}" appears twice`);
    sections.push({
      kind: current.kind,
      mid: current.mid,
      direction: (current.direction ?? sessionDirection ?? 'sendrecv') as Direction,
      rejected: current.port === 0,
      sendRids: current.rids,
    });
  };
  for (const line of lines) {
    if (line.startsWith('m=')) {
      finish();
      const [kind, port] = line.slice(2).split(' ');
      const portNumber = Number(port);
      if (!kind || !Number.isInteger(portNumber)) throw invalid(`malformed line "${line.slice(0, 80)}"`);
      current = { kind, port: portNumber, rids: [] };
    } else if (line.startsWith('a=')) {
      const attribute = line.slice(2);
      if (DIRECTIONS.has(attribute)) {
        if (current) current.direction = attribute;
        else sessionDirection = attribute;
      } else if (current && attribute.startsWith('mid:')) {
        current.mid = attribute.slice(4).trim();
      } else if (current && attribute.startsWith('rid:')) {
        const [rid, dir] = attribute.slice(4).split(' ');
        if (rid && dir === 'send') current.rids.push(rid);
      }
    }
  }
  finish();
  if (sections.length === 0) throw invalid('has no media sections');
  return sections;
}

/** True when the offerer sends on this section. */
export function offererSends(section: MediaSection): boolean {
  return !section.rejected && (section.direction === 'sendonly' || section.direction === 'sendrecv');
}

/** True when the offerer wants to receive on this section (a receive slot). */
export function offererReceives(section: MediaSection): boolean {
  return !section.rejected && section.direction === 'recvonly';
}

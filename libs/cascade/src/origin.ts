/**
 * Where a relayed stream came from, and the rule that keeps it from looping
 * (STYLE.md: "Tag relayed traffic with its origin so it never loops").
 *
 * Every stream a media server takes in over a cascade link carries its
 * origin: the server where it was published, and every server it crossed on
 * its way here. A server announces a stream over a link only when the server
 * at the far end has never had it, and refuses an announcement naming itself.
 * With the design's shapes (a star around the cloud MMR, or around an
 * internal-only meeting's top) a stream crosses each link at most once; the
 * rule keeps that true in any shape, cycles included.
 */

/** The origin of a stream that arrived over a cascade link. A stream published here has none. */
export interface StreamOrigin {
  /** The link it arrived by. */
  readonly linkId: string;
  /** The server where it was published. */
  readonly serverId: string;
  /** Every server it crossed before this one, in order (the origin first). */
  readonly via: readonly string[];
}

/** One end of a cascade link as the sending server sees it. */
export interface LinkEnd {
  readonly linkId: string;
  /** The server at the far end. */
  readonly peerServerId: string;
}

/**
 * Whether a stream may be sent over a link: a stream published here always;
 * a relayed one unless it came by that link or the far end has already had
 * it (it was published there, or crossed it).
 */
export function mayCross(origin: StreamOrigin | undefined, link: LinkEnd): boolean {
  if (!origin) return true;
  return origin.linkId !== link.linkId && origin.serverId !== link.peerServerId && !origin.via.includes(link.peerServerId);
}

/** The path a server announces with a stream it sends on: the path it came by, then itself. */
export function pathOnward(origin: StreamOrigin | undefined, selfServerId: string): string[] {
  return [...(origin?.via ?? []), selfServerId];
}

/** Whether an announced stream may be taken in: not when it has already crossed this server (a loop). */
export function mayEnter(via: readonly string[], selfServerId: string): boolean {
  return !via.includes(selfServerId);
}

/** A stream's key across the cascade: stream ids are unique per origin server only. */
export function streamKey(originServerId: string, streamId: string): string {
  return `${originServerId}/${streamId}`;
}

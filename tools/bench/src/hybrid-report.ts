/**
 * The hybrid scenario's report, as pure functions of what the run collected
 * (the media servers' GET /v1/stats, the placements, the client processes'
 * reports): the links expected and found, the bandwidth totals against the
 * no-module case, the streams and connections that leave the network, and
 * who heard whom. Unit-tested in hybrid.spec.ts; hybrid.ts runs the scenario.
 */

export type Scope = 'north-south' | 'east-west';

export interface Traffic {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
}

/** The bandwidth accounting of a meeting or a whole media server (docs/cascade.md, "Bandwidth accounting"). */
export interface Bandwidth {
  client: Traffic;
  cascade: Record<Scope, Traffic & { links: number; streams: number }>;
  externalStreams: number;
  externalBytes: number;
  wouldHaveLeftBytes: number;
  savedBytes: number;
}

export interface LinkStat extends Traffic {
  linkId: string;
  meetingId: string;
  peerServerId: string;
  role: string;
  scope: Scope;
  streamsOut: number;
  streamsIn: number;
}

/** What the bench reads of a media server's GET /v1/stats. */
export interface ServerStats {
  module: Bandwidth;
  meetings: (Bandwidth & { meetingId: string; mode: string; participants: number; tracks: number })[];
  links: LinkStat[];
}

/** Where the ZCPs (or the guest path) put one participant. */
export interface Placement {
  meetingId: string;
  participantId: string;
  /** A module's id, or the cloud MMR's. */
  serverId: string;
  cloud: boolean;
}

/**
 * The (module, meeting) pairs that must have a north–south link: a module
 * holding a meeting of which someone is on the cloud MMR, or which a second
 * module holds too (DESIGN.md, "A cloud-hybrid join", step 5). By module id.
 */
export function expectedLinks(placements: readonly Placement[]): Map<string, Set<string>> {
  const byMeeting = new Map<string, { modules: Set<string>; cloud: boolean }>();
  for (const p of placements) {
    const m = byMeeting.get(p.meetingId) ?? { modules: new Set<string>(), cloud: false };
    if (p.cloud) m.cloud = true;
    else m.modules.add(p.serverId);
    byMeeting.set(p.meetingId, m);
  }
  const expected = new Map<string, Set<string>>();
  for (const [meetingId, m] of byMeeting) {
    if (!m.cloud && m.modules.size < 2) continue;
    for (const moduleId of m.modules) expected.set(moduleId, (expected.get(moduleId) ?? new Set<string>()).add(meetingId));
  }
  return expected;
}

export interface LinkChecks {
  /** Each module has exactly one link for each meeting it must link, and none for any other. */
  oneLinkPerMeetingPerModule: boolean;
  /** Every module's link goes to the cloud MMR, north–south; the cloud MMR's links come from the zone's modules. */
  noModuleToModuleLink: boolean;
  /** The cloud MMR holds the other end of every module's link (same link ids). */
  cloudHoldsEveryLink: boolean;
  /** What did not hold, for the report. */
  problems: string[];
}

export function checkLinks(modules: Readonly<Record<string, ServerStats>>, cloud: ServerStats, cloudId: string, expected: ReadonlyMap<string, ReadonlySet<string>>): LinkChecks {
  const problems: string[] = [];
  let onePerMeeting = true;
  let noModuleToModule = true;
  for (const [moduleId, stats] of Object.entries(modules)) {
    const perMeeting = new Map<string, number>();
    for (const l of stats.links) perMeeting.set(l.meetingId, (perMeeting.get(l.meetingId) ?? 0) + 1);
    const wanted = expected.get(moduleId) ?? new Set<string>();
    for (const meetingId of new Set([...wanted, ...perMeeting.keys()])) {
      const have = perMeeting.get(meetingId) ?? 0;
      const want = wanted.has(meetingId) ? 1 : 0;
      if (have !== want) {
        onePerMeeting = false;
        problems.push(`${moduleId}: ${have} links for meeting ${meetingId}, expected ${want}`);
      }
    }
    for (const l of stats.links) {
      if (l.peerServerId !== cloudId || l.scope !== 'north-south') {
        noModuleToModule = false;
        problems.push(`${moduleId}: link ${l.linkId} of meeting ${l.meetingId} goes to ${l.peerServerId} (${l.scope})`);
      }
    }
    if (stats.module.cascade['east-west'].links > 0) {
      noModuleToModule = false;
      problems.push(`${moduleId}: ${stats.module.cascade['east-west'].links} east-west links`);
    }
  }
  for (const l of cloud.links) {
    if (!(l.peerServerId in modules)) {
      noModuleToModule = false;
      problems.push(`${cloudId}: link ${l.linkId} from ${l.peerServerId}, not a module of the zone`);
    }
  }
  const moduleLinkIds = Object.values(modules).flatMap((s) => s.links.map((l) => l.linkId)).sort();
  const cloudLinkIds = cloud.links.map((l) => l.linkId).sort();
  const cloudHoldsEveryLink = JSON.stringify(moduleLinkIds) === JSON.stringify(cloudLinkIds);
  if (!cloudHoldsEveryLink) problems.push(`links on the modules ${moduleLinkIds.length}, on the cloud MMR ${cloudLinkIds.length} (ids differ)`);
  return { oneLinkPerMeetingPerModule: onePerMeeting, noModuleToModuleLink: noModuleToModule, cloudHoldsEveryLink, problems };
}

/** What a set of counters moved between two readings (totals never go down). */
export function bandwidthDelta(before: Bandwidth, after: Bandwidth): Pick<Bandwidth, 'externalBytes' | 'wouldHaveLeftBytes' | 'savedBytes'> {
  const externalBytes = after.externalBytes - before.externalBytes;
  const wouldHaveLeftBytes = after.wouldHaveLeftBytes - before.wouldHaveLeftBytes;
  return { externalBytes, wouldHaveLeftBytes, savedBytes: Math.max(0, wouldHaveLeftBytes - externalBytes) };
}

export interface Totals {
  /** Bytes on the modules' north–south links, both ways: what left and entered the network with modules. */
  externalBytes: number;
  /** Bytes the modules' participants sent and received on their client links: what would have crossed without modules. */
  wouldHaveLeftBytes: number;
  savedBytes: number;
  /** wouldHaveLeftBytes / externalBytes: how many times more would have crossed without modules. */
  ratio: number;
  /** savedBytes as a share of wouldHaveLeftBytes, %. */
  savedPercent: number;
}

/** The modules' figures summed; the saving net over them, as each module works out its own. */
export function totalsOf(figures: readonly Pick<Bandwidth, 'externalBytes' | 'wouldHaveLeftBytes'>[]): Totals {
  const externalBytes = figures.reduce((a, f) => a + f.externalBytes, 0);
  const wouldHaveLeftBytes = figures.reduce((a, f) => a + f.wouldHaveLeftBytes, 0);
  const savedBytes = Math.max(0, wouldHaveLeftBytes - externalBytes);
  return {
    externalBytes,
    wouldHaveLeftBytes,
    savedBytes,
    ratio: externalBytes > 0 ? wouldHaveLeftBytes / externalBytes : Number.NaN,
    savedPercent: wouldHaveLeftBytes > 0 ? (savedBytes / wouldHaveLeftBytes) * 100 : Number.NaN,
  };
}

/** One client process's report, as far as the checks read it (meeting-worker.ts, `report`). */
export interface ClientReport {
  received: Record<string, Record<string, number>>;
  owners: Record<string, { participantId: string; kind: 'audio' | 'video' }>;
  roster: Record<string, { size: number; attached: number }>;
}

export interface Heard {
  /** Each participant received both kinds (video only beyond the audio slots) from every other of its meeting. */
  everyoneHeardEveryone: boolean;
  /** The guests received every inside participant's media, and every inside participant the guests': across the links. */
  acrossTheLink: boolean;
  /** Every participant's cloud roster holds its whole meeting, each of them with its media attached. */
  rosterComplete: boolean;
  /** "receiver ← sender: kinds missing", for the report. */
  missing: string[];
  /** Streams a participant published and streams it received (tracks with packets inside the window), inside participants only. */
  insideStreams: { published: number; received: number; participants: number };
}

/**
 * Who received whom inside the window, from the client processes' reports.
 * `audioSlots`: a participant receives the N loudest audio streams (the
 * module's MEETEDGE_AUDIO_SLOTS); beyond that many others, audio is not
 * required from each.
 */
export function whoHeardWhom(placements: readonly Placement[], reports: readonly ClientReport[], audioSlots: number): Heard {
  const owners = new Map<string, { participantId: string; kind: 'audio' | 'video' }>();
  for (const r of reports) for (const [trackId, o] of Object.entries(r.owners)) owners.set(trackId, o);
  const received = new Map<string, Record<string, number>>();
  const roster = new Map<string, { size: number; attached: number }>();
  for (const r of reports) {
    for (const [p, tracks] of Object.entries(r.received)) received.set(p, tracks);
    for (const [p, seen] of Object.entries(r.roster)) roster.set(p, seen);
  }
  const byMeeting = new Map<string, Placement[]>();
  for (const p of placements) byMeeting.set(p.meetingId, [...(byMeeting.get(p.meetingId) ?? []), p]);
  const missing: string[] = [];
  let across = true;
  let rosterComplete = true;
  const inside = { published: 0, received: 0, participants: 0 };
  const publishedBy = new Map<string, number>();
  for (const o of owners.values()) publishedBy.set(o.participantId, (publishedBy.get(o.participantId) ?? 0) + 1);
  for (const [, members] of byMeeting) {
    for (const receiver of members) {
      const got = received.get(receiver.participantId) ?? {};
      const heard = new Map<string, Set<string>>();
      for (const [trackId, n] of Object.entries(got)) {
        const o = owners.get(trackId);
        if (!o || n <= 0) continue;
        heard.set(o.participantId, (heard.get(o.participantId) ?? new Set<string>()).add(o.kind));
      }
      const others = members.filter((m) => m.participantId !== receiver.participantId);
      const kinds = others.length <= audioSlots ? ['audio', 'video'] : ['video'];
      for (const sender of others) {
        const lacking = kinds.filter((k) => !heard.get(sender.participantId)?.has(k));
        if (lacking.length === 0) continue;
        missing.push(`${receiver.participantId} ← ${sender.participantId}: ${lacking.join(', ')}`);
        if (receiver.cloud !== sender.cloud) across = false;
      }
      const seen = roster.get(receiver.participantId);
      if (!seen || seen.size !== members.length || seen.attached !== members.length) rosterComplete = false;
      if (!receiver.cloud) {
        inside.participants++;
        inside.published += publishedBy.get(receiver.participantId) ?? 0;
        inside.received += Object.values(got).filter((n) => n > 0).length;
      }
    }
  }
  return { everyoneHeardEveryone: missing.length === 0, acrossTheLink: across, rosterComplete, missing, insideStreams: inside };
}

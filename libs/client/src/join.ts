/**
 * The whole join in one call (issue [4] item 5), shared by both SDK halves:
 * sign in to the control plane, ask it to join the meeting, probe the zones it
 * names and ask the nearest zone's ZCPs for a module (the zone's other ZCPs
 * when one does not answer, the next zone, then the cloud MMR for a
 * cloud-hybrid meeting), open the media session with the ticket, and keep
 * the meeting's signaling: for a cloud-hybrid meeting the cloud meeting
 * server's (told where media is attached), for an internal-only one the
 * module's (the same protocol, said hello to with the ticket; nothing goes to
 * the cloud). The caller's status line says whether media is
 * attached to "a data center controlled by your account owner" (a module) or
 * to the cloud. No Node or browser imports: the media and signaling clients
 * come in as `open…` functions.
 */
import { MeetedgeError, type ErrorCode, type Quality } from '@meetedge/core';
import { probeZones, type ZoneToProbe } from './zone-probe';

/** What the control plane's POST /v1/meetings/:id/join answers. */
export interface JoinAnswer {
  meetingId: string;
  topic: string;
  mode: 'cloud-hybrid' | 'internal-only';
  e2ee: boolean;
  defaultQuality: 'SD' | 'HD';
  signalingUrl?: string;
  cloudMmrUrl?: string;
  zones: { id: string; name: string; zcpUrls: string[] }[];
}

/** What a ZCP's POST /v1/assign answers. */
export interface Assignment {
  mode: 'cloud-hybrid' | 'internal-only';
  cloud: boolean;
  moduleId: string;
  mediaUrl: string;
  ticket: string;
  expiresAt: number;
}

export interface JoinMeetingOptions<Media, Signal> {
  /** The control plane, e.g. `https://meet.example.com`. */
  controlPlaneUrl: string;
  email: string;
  password: string;
  meetingId: string;
  quality?: 'SD' | 'HD';
  openMedia(mediaUrl: string, ticket: string): Promise<Media>;
  /** Opens the meeting signaling at `signalingUrl` with `token` (an access token for the cloud, the join ticket for a module). */
  openSignal(signalingUrl: string, token: string): Promise<Signal & { attachMedia(where: { kind: 'module'; moduleId: string } | { kind: 'cloud' }): void }>;
  fetch?: typeof fetch;
  /** Probes per ZCP for the zone choice. Default 5. */
  probeSamples?: number;
}

/** What the user is told of where media is attached. */
export const MEDIA_AT_MODULE = 'Your media is attached to a data center controlled by your account owner.';
export const MEDIA_IN_CLOUD = 'Your media is attached to the cloud.';

export interface JoinedMeeting<Media, Signal> {
  meeting: JoinAnswer;
  /** The participant's access token (a failover asks the ZCPs again with it). */
  accessToken: string;
  quality: Quality;
  assignment: Assignment;
  media: Media;
  /** The meeting signaling: the cloud meeting server's (cloud-hybrid) or the module's (internal-only). */
  signal: Signal | undefined;
  /** Where media is attached, for the user. */
  attachedTo: 'module' | 'cloud';
  status: string;
  /** The zones in the order they were tried (nearest first). */
  zoneOrder: string[];
  /** The zones with their ZCPs, nearest first (fastest ZCP first inside each). */
  zones: { zoneId: string; zcpUrls: string[] }[];
}

/**
 * Where a module serves the meeting signaling of an internal-only meeting:
 * beside its media session, `…/v1/meetings/<id>/signal` instead of `…/v1/media`.
 */
export function moduleSignalingUrl(mediaUrl: string, meetingId: string): string {
  const url = new URL(mediaUrl);
  url.pathname = url.pathname.replace(/\/v1\/media\/?$/, '') + `/v1/meetings/${encodeURIComponent(meetingId)}/signal`;
  return url.toString();
}

async function call<T>(doFetch: typeof fetch, url: string, init: { method: 'POST'; token?: string; body?: unknown }): Promise<T> {
  const response = await doFetch(url, {
    method: init.method,
    headers: { 'content-type': 'application/json', ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
    body: JSON.stringify(init.body ?? {}),
  });
  const body = (await response.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
  if (!response.ok) {
    const code = (body?.error?.code ?? 'UNAVAILABLE') as ErrorCode;
    throw new MeetedgeError(code, body?.error?.message ?? `${url} answered ${response.status}`);
  }
  return body as T;
}

/**
 * Asks a zone's ZCPs for a module, in the order given: the next ZCP only when
 * one does not answer (down, unreachable, or UNAVAILABLE); a refusal of the
 * join itself (FORBIDDEN, CAPACITY_EXCEEDED, ...) is the zone's answer, since
 * every ZCP of a zone shares its state. Throws the last error when none placed.
 */
export async function assignInZone(
  zcpUrls: readonly string[],
  accessToken: string,
  request: { meetingId: string; quality: Quality; excludeModuleIds?: readonly string[] },
  doFetch: typeof fetch = fetch,
): Promise<Assignment> {
  let lastError: unknown = new MeetedgeError('UNAVAILABLE', 'the zone has no ZCP');
  for (const zcp of zcpUrls) {
    try {
      return await call<Assignment>(doFetch, `${zcp.replace(/\/+$/, '')}/v1/assign`, { method: 'POST', token: accessToken, body: request });
    } catch (err) {
      lastError = err;
      if (err instanceof MeetedgeError && err.code !== 'UNAVAILABLE') break;
    }
  }
  throw lastError;
}

export async function joinMeeting<Media, Signal>(options: JoinMeetingOptions<Media, Signal>): Promise<JoinedMeeting<Media, Signal>> {
  const doFetch = options.fetch ?? fetch;
  const base = options.controlPlaneUrl.replace(/\/+$/, '');
  const { accessToken } = await call<{ accessToken: string }>(doFetch, `${base}/v1/sign-in`, {
    method: 'POST',
    body: { email: options.email, password: options.password },
  });
  const meeting = await call<JoinAnswer>(doFetch, `${base}/v1/meetings/${encodeURIComponent(options.meetingId)}/join`, { method: 'POST', token: accessToken });
  const ranked = await probeZones(meeting.zones as ZoneToProbe[], { samples: options.probeSamples ?? 5, fetch: doFetch });
  const quality = options.quality ?? meeting.defaultQuality;
  let assignment: Assignment | undefined;
  let lastError: unknown;
  // The nearest zone first; inside a zone, its ZCPs fastest first (any ZCP of a zone can place).
  for (const zone of ranked) {
    try {
      assignment = await assignInZone(zone.zcpUrls, accessToken, { meetingId: meeting.meetingId, quality }, doFetch);
      break;
    } catch (err) {
      lastError = err;
    }
  }
  if (!assignment) {
    throw lastError instanceof MeetedgeError
      ? lastError
      : new MeetedgeError('UNAVAILABLE', meeting.zones.length === 0 ? 'no zone to join through' : 'no zone could place this participant');
  }
  const media = await options.openMedia(assignment.mediaUrl, assignment.ticket);
  const attachedTo = assignment.cloud ? 'cloud' : 'module';
  let signal: (Signal & { attachMedia(where: { kind: 'module'; moduleId: string } | { kind: 'cloud' }): void }) | undefined;
  if (meeting.mode === 'cloud-hybrid' && meeting.signalingUrl) {
    signal = await options.openSignal(meeting.signalingUrl, accessToken);
  } else if (meeting.mode === 'internal-only') {
    // The module relays it to the meeting's top, which holds the roster.
    signal = await options.openSignal(moduleSignalingUrl(assignment.mediaUrl, meeting.meetingId), assignment.ticket);
  }
  signal?.attachMedia(attachedTo === 'cloud' ? { kind: 'cloud' } : { kind: 'module', moduleId: assignment.moduleId });
  return {
    meeting,
    accessToken,
    quality,
    assignment,
    media,
    signal,
    attachedTo,
    status: attachedTo === 'module' ? MEDIA_AT_MODULE : MEDIA_IN_CLOUD,
    zoneOrder: ranked.map((z) => z.zoneId),
    zones: ranked.map((z) => ({ zoneId: z.zoneId, zcpUrls: [...z.zcpUrls] })),
  };
}

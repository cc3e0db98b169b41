import type { MeetingMode } from '@meetedge/core';

/** What a media server is: a module inside a company network, or the cloud MMR. */
export type ServerRole = 'edge' | 'cloud';

/**
 * Where a cascade link runs. `north-south`: one end is the cloud MMR, so its
 * media leaves (or enters) the company network. `east-west`: module to
 * module, inside the network.
 */
export type LinkScope = 'north-south' | 'east-west';

export const LINK_SCOPES: readonly LinkScope[] = ['north-south', 'east-west'];

/**
 * The scope of a link a server makes (opens or answers) for a meeting. On
 * the cloud MMR every link is north-south (the other end is a module in a
 * company network). On a module, a link of a cloud-hybrid meeting goes to
 * the cloud MMR (the design's star: every module of a cloud-hybrid meeting
 * links to the cloud, never to another module), one of an internal-only
 * meeting to another module.
 */
export function linkScope(role: ServerRole, mode: MeetingMode): LinkScope {
  return role === 'cloud' || mode === 'cloud-hybrid' ? 'north-south' : 'east-west';
}

/**
 * Wire ↔ domain mapping for values shared by several contracts. Generated
 * enums carry UNSPECIFIED (0) and UNRECOGNIZED (-1); domain code never sees
 * either: a message that leaves a required enum unset is rejected here, at the
 * door, with a coded error naming the field.
 */
import { AccountId, MeetedgeError, MeetingId, ModuleId, type MeetingMode, type Quality } from '@meetedge/core';
import { MeetingMode as ProtoMeetingMode, Quality as ProtoQuality, TopLossPolicy, type MeetingServerInfo } from './gen/meetedge/v1/common';

/** Domain quality → wire enum. */
export function qualityToProto(quality: Quality): ProtoQuality {
  return quality === 'HD' ? ProtoQuality.HD : ProtoQuality.SD;
}

/**
 * Wire enum → domain quality.
 * @param field the message field it came from, named in the error
 * @throws MeetedgeError INVALID_ARGUMENT for UNSPECIFIED or an unknown value
 */
export function qualityFromProto(value: ProtoQuality, field = 'quality'): Quality {
  switch (value) {
    case ProtoQuality.SD:
      return 'SD';
    case ProtoQuality.HD:
      return 'HD';
    default:
      throw new MeetedgeError('INVALID_ARGUMENT', `${field} must be SD or HD, got ${String(value)}`);
  }
}

/** A meeting as a zone sees it: the domain form of v1.MeetingServerInfo. */
export interface MeetingInfo {
  readonly meetingId: MeetingId;
  readonly mode: MeetingMode;
  readonly e2ee: boolean;
  readonly defaultQuality: Quality;
  /** The cloud MMR that tops a cloud-hybrid meeting; absent for internal-only ones. */
  readonly cloudMmrId?: ModuleId;
  /** Its cascade endpoint ("host:port"); absent for internal-only meetings. */
  readonly cloudMmrAddress?: string;
  /** The cloud meeting server's signaling URL; absent for internal-only meetings. */
  readonly cloudSignalingUrl?: string;
  /** The meeting's account: only its members (and guests of this meeting) may be placed. */
  readonly accountId: AccountId;
  /** The host's user id (absent when the control plane did not say): the ZCP marks the host's ticket. */
  readonly hostUserId?: string;
  /** The meeting's topic, when it has one. */
  readonly topic?: string;
  /** What an internal-only meeting does when its top module dies; absent means recover. */
  readonly onTopLoss?: 'recover' | 'collapse';
}

/**
 * Wire → domain meeting info.
 * @throws MeetedgeError INVALID_ARGUMENT naming what is missing or malformed
 */
export function meetingInfoFromProto(info: MeetingServerInfo | undefined): MeetingInfo {
  if (!info) throw new MeetedgeError('INVALID_ARGUMENT', 'meeting server info is missing');
  const field = <T>(name: string, parse: () => T): T => {
    try {
      return parse();
    } catch (err) {
      throw new MeetedgeError('INVALID_ARGUMENT', `meeting_server_info.${name}: ${(err as Error).message}`);
    }
  };
  const mode: MeetingMode | undefined =
    info.mode === ProtoMeetingMode.CLOUD_HYBRID ? 'cloud-hybrid' : info.mode === ProtoMeetingMode.INTERNAL_ONLY ? 'internal-only' : undefined;
  if (!mode) throw new MeetedgeError('INVALID_ARGUMENT', `meeting_server_info.mode must be CLOUD_HYBRID or INTERNAL_ONLY, got ${String(info.mode)}`);
  const base = {
    meetingId: field('meeting_id', () => MeetingId(info.meetingId)),
    accountId: field('account_id', () => AccountId(info.accountId)),
    mode,
    e2ee: info.e2ee,
    defaultQuality: qualityFromProto(info.defaultQuality, 'meeting_server_info.default_quality'),
    ...(info.hostUserId ? { hostUserId: info.hostUserId } : {}),
    ...(info.topic ? { topic: info.topic } : {}),
    ...(info.onTopLoss === TopLossPolicy.COLLAPSE ? { onTopLoss: 'collapse' as const } : info.onTopLoss === TopLossPolicy.RECOVER ? { onTopLoss: 'recover' as const } : {}),
  };
  if (mode === 'internal-only') return base;
  return {
    ...base,
    cloudMmrId: field('cloud_mmr_id', () => ModuleId(info.cloudMmrId)),
    cloudMmrAddress: info.cloudMmrAddress,
    cloudSignalingUrl: info.cloudSignalingUrl,
  };
}

/** Domain → wire meeting info. */
export function meetingInfoToProto(info: MeetingInfo): MeetingServerInfo {
  return {
    meetingId: info.meetingId,
    mode: info.mode === 'cloud-hybrid' ? ProtoMeetingMode.CLOUD_HYBRID : ProtoMeetingMode.INTERNAL_ONLY,
    e2ee: info.e2ee,
    defaultQuality: qualityToProto(info.defaultQuality),
    cloudMmrId: info.cloudMmrId ?? '',
    cloudMmrAddress: info.cloudMmrAddress ?? '',
    cloudSignalingUrl: info.cloudSignalingUrl ?? '',
    accountId: info.accountId,
    hostUserId: info.hostUserId ?? '',
    topic: info.topic ?? '',
    onTopLoss: info.onTopLoss === 'collapse' ? TopLossPolicy.COLLAPSE : info.onTopLoss === 'recover' ? TopLossPolicy.RECOVER : TopLossPolicy.UNSPECIFIED,
  };
}

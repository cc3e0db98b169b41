/**
 * Wire ↔ domain mapping for values shared by several contracts. Generated
 * enums carry UNSPECIFIED (0) and UNRECOGNIZED (-1); domain code never sees
 * either: a message that leaves a required enum unset is rejected here, at the
 * door, with a coded error naming the field.
 */
import { MeetedgeError, type Quality } from '@meetedge/core';
import { Quality as ProtoQuality } from './gen/meetedge/v1/common';

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

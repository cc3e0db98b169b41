import { AccountId, MeetedgeError, MeetingId, ModuleId } from '@meetedge/core';
import { status } from '@grpc/grpc-js';
import { fromGrpcError, meetingInfoFromProto, meetingInfoToProto, qualityFromProto, qualityToProto, toGrpcError, ERROR_CODE_METADATA_KEY, type MeetingInfo } from './index';
import { MeetingMode, Quality } from './gen/meetedge/v1/common';

describe('quality mapping', () => {
  it('round-trips SD and HD', () => {
    expect(qualityFromProto(qualityToProto('SD'))).toBe('SD');
    expect(qualityFromProto(qualityToProto('HD'))).toBe('HD');
  });

  it('rejects UNSPECIFIED and unknown values with INVALID_ARGUMENT naming the field', () => {
    for (const value of [Quality.UNSPECIFIED, Quality.UNRECOGNIZED, 7 as Quality]) {
      expect(() => qualityFromProto(value, 'expect_participant.quality')).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('expect_participant.quality') }),
      );
    }
  });
});

describe('meeting info mapping', () => {
  const hybrid: MeetingInfo = {
    meetingId: MeetingId('m-1'),
    accountId: AccountId('acme'),
    mode: 'cloud-hybrid',
    e2ee: true,
    defaultQuality: 'HD',
    cloudMmrId: ModuleId('cloud-mmr-1'),
    cloudMmrAddress: '10.0.0.9:8092',
    cloudSignalingUrl: 'wss://meet.example/v1/meetings/m-1/signal',
  };
  const internal: MeetingInfo = {
    meetingId: MeetingId('m-2'),
    accountId: AccountId('acme'),
    mode: 'internal-only',
    e2ee: false,
    defaultQuality: 'SD',
    hostUserId: 'u-host',
    topic: 'Design review',
    onTopLoss: 'collapse',
  };

  it.each([['cloud-hybrid', hybrid], ['internal-only', internal]])('round-trips a %s meeting', (_mode, info) => {
    expect(meetingInfoFromProto(meetingInfoToProto(info))).toEqual(info);
  });

  it.each([
    ['no mode', { mode: MeetingMode.UNSPECIFIED }, /meeting_server_info\.mode must be CLOUD_HYBRID or INTERNAL_ONLY/],
    ['a bad meeting id', { meetingId: 'm 1' }, /meeting_server_info\.meeting_id/],
    ['no account', { accountId: '' }, /meeting_server_info\.account_id/],
    ['no default quality', { defaultQuality: Quality.UNSPECIFIED }, /meeting_server_info\.default_quality/],
    ['a hybrid meeting without its cloud MMR', { cloudMmrId: '' }, /meeting_server_info\.cloud_mmr_id/],
  ])('refuses %s with INVALID_ARGUMENT naming the field', (_what, change, message) => {
    const wire = { ...meetingInfoToProto(hybrid), ...change };
    expect(() => meetingInfoFromProto(wire)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) }));
  });

  it('refuses a missing message', () => {
    expect(() => meetingInfoFromProto(undefined)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('gRPC error translation', () => {
  it('toGrpcError keeps a coded error: status from its code, message, code in metadata', () => {
    const err = toGrpcError(new MeetedgeError('CAPACITY_EXCEEDED', 'zone hq is full'));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toBe('zone hq is full');
    expect(err.metadata?.get(ERROR_CODE_METADATA_KEY)).toEqual(['CAPACITY_EXCEEDED']);
  });

  it('toGrpcError hides anything uncoded behind INTERNAL', () => {
    const err = toGrpcError(new Error('secret stack detail'));
    expect(err.code).toBe(status.INTERNAL);
    expect(err.details).toBe('internal error');
  });

  it('fromGrpcError falls back to the status when the peer sent no code', () => {
    const peer = Object.assign(new Error('14 UNAVAILABLE: gone'), {
      code: status.UNAVAILABLE,
      details: 'gone',
      metadata: undefined as never,
    });
    const coded = fromGrpcError(peer);
    expect(coded.code).toBe('UNAVAILABLE');
    expect(coded.message).toBe('gone');
  });
});

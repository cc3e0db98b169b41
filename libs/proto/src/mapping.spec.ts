import { MeetedgeError } from '@meetedge/core';
import { status } from '@grpc/grpc-js';
import { fromGrpcError, qualityFromProto, qualityToProto, toGrpcError, ERROR_CODE_METADATA_KEY } from './index';
import { Quality } from './gen/meetedge/v1/common';

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

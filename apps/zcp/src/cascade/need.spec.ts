// The cascade need mappings at the gRPC doors: what counts as malformed, and the SetCascade a need becomes.
import { MeetingId, ModuleId } from '@meetedge/core';
import { v1 } from '@meetedge/proto';
import { isHostPort, needEventFromProto, setCascadeCommand } from './need';
import { needed } from './test-support';

const event = (kind: v1.CascadeNeedEvent['kind']): v1.CascadeNeedEvent => ({ seq: 1, kind });

describe('needEventFromProto', () => {
  it('maps a need, an end and synced to domain events', () => {
    expect(needEventFromProto(event({ $case: 'needed', value: needed('m-1', { reason: v1.CascadeReason.OTHER_MODULE }) }))).toEqual({
      type: 'needed',
      need: { meetingId: 'm-1', targetServerId: 'cloud-mmr-1', targetAddress: '127.0.0.1:9701', reason: 'other-module' },
    });
    expect(needEventFromProto(event({ $case: 'ended', value: { meetingId: 'm-1' } }))).toEqual({ type: 'ended', meetingId: 'm-1' });
    expect(needEventFromProto(event({ $case: 'synced', value: { replayed: 3 } }))).toEqual({ type: 'synced', replayed: 3 });
  });

  it('keeps a need whose reason it does not know, as unspecified', () => {
    const parsed = needEventFromProto(event({ $case: 'needed', value: needed('m-1', { reason: 42 as v1.CascadeReason }) }));
    expect(parsed).toMatchObject({ need: { reason: 'unspecified' } });
  });

  it.each([
    ['a bad meeting id', { $case: 'needed', value: needed('bad id') }, 'needed.meeting_id'],
    ['no target server', { $case: 'needed', value: needed('m-1', { targetServerId: '' }) }, 'needed.target_server_id'],
    ['an empty address', { $case: 'needed', value: needed('m-1', { targetAddress: '' }) }, 'needed.target_address'],
    ['an address without a port', { $case: 'needed', value: needed('m-1', { targetAddress: 'cloud-mmr' }) }, 'needed.target_address'],
    ['a bad ended id', { $case: 'ended', value: { meetingId: '' } }, 'ended.meeting_id'],
    ['no kind', undefined, 'needed, ended or synced'],
  ] as [string, v1.CascadeNeedEvent['kind'], string][])('refuses %s with INVALID_ARGUMENT', (_what, kind, message) => {
    expect(() => needEventFromProto(event(kind))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(message) }));
  });
});

describe('isHostPort', () => {
  it.each(['cloud-mmr:9701', '10.0.0.7:1', '[::1]:65535'])('accepts %s', (value) => expect(isHostPort(value)).toBe(true));
  it.each(['', 'cloud-mmr', ':9701', 'cloud-mmr:0', 'cloud-mmr:65536', 'ws://cloud-mmr:9701', 'a b:1', '::1:9701'])('refuses %j', (value) =>
    expect(isHostPort(value)).toBe(false),
  );
});

describe('setCascadeCommand', () => {
  const m1 = MeetingId('m-1');

  it('opens the link to the need\'s target', () => {
    const need = { meetingId: m1, targetServerId: ModuleId('cloud-mmr-1'), targetAddress: 'cloud-mmr:9701', reason: 'remote-participant' } as const;
    expect(setCascadeCommand(m1, need)).toEqual({
      $case: 'setCascade',
      value: { meetingId: 'm-1', enabled: true, targetServerId: 'cloud-mmr-1', targetAddress: 'cloud-mmr:9701', reason: v1.CascadeReason.REMOTE_PARTICIPANT },
    });
  });

  it('closes the link, with the target fields empty, when there is no need', () => {
    expect(setCascadeCommand(m1, undefined)).toEqual({
      $case: 'setCascade',
      value: { meetingId: 'm-1', enabled: false, targetServerId: '', targetAddress: '', reason: v1.CascadeReason.UNSPECIFIED },
    });
  });
});

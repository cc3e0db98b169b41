import { MeetingId, ModuleId, ZoneId } from '@meetedge/core';
import { CascadeNeeds, needsOf, type Attachment, type CascadeNeedChange } from './needs';

const onModule = (moduleId: string, zoneId: string): Attachment => ({ kind: 'module', moduleId: ModuleId(moduleId), zoneId: ZoneId(zoneId) });
const cloud: Attachment = { kind: 'cloud' };
const M = MeetingId('m-1');
const HQ = ZoneId('hq');
const LAB = ZoneId('lab');

describe('cascade needs', () => {
  it('needs nothing while everyone sits on one module', () => {
    expect(needsOf([])).toEqual(new Map());
    expect(needsOf([onModule('sfu-1', 'hq'), onModule('sfu-1', 'hq'), onModule('sfu-1', 'hq')])).toEqual(new Map());
  });

  it('needs a link from every zone holding the meeting when someone is in the cloud, or when a second module holds it', () => {
    expect(needsOf([onModule('sfu-1', 'hq'), cloud])).toEqual(new Map([[HQ, 'remote-participant']]));
    expect(needsOf([onModule('sfu-1', 'hq'), onModule('sfu-2', 'hq')])).toEqual(new Map([[HQ, 'other-module']]));
    expect(needsOf([onModule('sfu-1', 'hq'), onModule('sfu-9', 'lab')])).toEqual(new Map([[HQ, 'other-module'], [LAB, 'other-module']]));
    expect(needsOf([onModule('sfu-1', 'hq'), onModule('sfu-9', 'lab'), cloud])).toEqual(new Map([[HQ, 'remote-participant'], [LAB, 'remote-participant']]));
    // Everyone in the cloud: no zone holds the meeting, no zone links.
    expect(needsOf([cloud, cloud])).toEqual(new Map());
  });

  it('tells a zone\'s watchers when a need starts, changes reason and ends, and only that zone\'s', () => {
    const needs = new CascadeNeeds();
    const hq: CascadeNeedChange[] = [];
    const lab: CascadeNeedChange[] = [];
    const stopHq = needs.watch(HQ, (c) => hq.push(c));
    needs.watch(LAB, (c) => lab.push(c));
    needs.update(M, [onModule('sfu-1', 'hq')]);
    expect(hq).toEqual([]);
    needs.update(M, [onModule('sfu-1', 'hq'), cloud]);
    needs.update(M, [onModule('sfu-1', 'hq'), cloud]);
    needs.update(M, [onModule('sfu-1', 'hq'), onModule('sfu-2', 'hq')]);
    expect(hq).toEqual([
      { type: 'needed', meetingId: M, reason: 'remote-participant' },
      { type: 'needed', meetingId: M, reason: 'other-module' },
    ]);
    expect(needs.current(HQ)).toEqual([{ meetingId: M, reason: 'other-module' }]);
    expect(lab).toEqual([]);
    needs.remove(M);
    expect(hq[2]).toEqual({ type: 'ended', meetingId: M });
    expect(needs.current(HQ)).toEqual([]);
    stopHq();
    expect(needs.watchers(HQ)).toBe(0);
    needs.update(M, [onModule('sfu-1', 'hq'), cloud]);
    expect(hq).toHaveLength(3);
  });
});

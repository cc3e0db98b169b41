import fc from 'fast-check';
import { ModuleId } from '@meetedge/core';
import { electTop } from './top';

const load = (entries: [string, number][]) => entries.map(([id, participants]) => ({ moduleId: ModuleId(id), participants }));

describe('electTop', () => {
  it('elects the module with the most participants of the meeting', () => {
    expect(electTop(load([['sfu-1', 2], ['sfu-2', 5], ['sfu-3', 1]]))).toBe('sfu-2');
  });

  it('breaks a tie by the lowest id, and elects nobody when no module carries the meeting', () => {
    expect(electTop(load([['sfu-3', 2], ['sfu-1', 2], ['sfu-2', 1]]))).toBe('sfu-1');
    expect(electTop([])).toBeUndefined();
  });

  it('gives every module the same answer whatever order it reads the load in', () => {
    const entries = fc.uniqueArray(fc.tuple(fc.stringMatching(/^sfu-[a-z0-9]{1,4}$/), fc.nat(20)), { minLength: 1, maxLength: 8, selector: ([id]) => id });
    fc.assert(
      fc.property(entries, fc.infiniteStream(fc.nat()), (list, shuffle) => {
        const shuffled = [...list].sort(() => (shuffle.next().value % 3) - 1);
        const a = electTop(load(list));
        const b = electTop(load(shuffled));
        const max = Math.max(...list.map(([, n]) => n));
        return a === b && list.some(([id, n]) => id === a && n === max);
      }),
    );
  });
});

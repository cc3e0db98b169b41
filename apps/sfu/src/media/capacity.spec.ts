import { MeetedgeError, ModuleId } from '@meetedge/core';
import { CapacityLedger } from './capacity';

const p = (n: number) => `m-1/p-${n}`;

describe('CapacityLedger', () => {
  it('holds 400 SD participants and refuses the 401st unit', () => {
    const ledger = new CapacityLedger(ModuleId('sfu-1'), 400);
    for (let i = 0; i < 400; i++) ledger.hold(p(i), 1);
    expect(ledger.usedUnits).toBe(400);
    let caught: unknown;
    try {
      ledger.hold(p(400), 1);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MeetedgeError);
    expect(caught).toMatchObject({
      code: 'CAPACITY_EXCEEDED',
      message: 'module sfu-1 is full: 400 of 400 units in use, 1 more needed',
    });
    expect(ledger.usedUnits).toBe(400);
  });

  it('holds 200 HD participants (2 units each)', () => {
    const ledger = new CapacityLedger(ModuleId('sfu-1'), 400);
    for (let i = 0; i < 200; i++) ledger.hold(p(i), 2);
    expect(() => ledger.hold(p(200), 1)).toThrow(/full/);
  });

  it('frees units when a participant leaves', () => {
    const ledger = new CapacityLedger(ModuleId('sfu-1'), 3);
    ledger.hold(p(1), 2);
    ledger.hold(p(2), 1);
    expect(ledger.release(p(1))).toBe(true);
    expect(ledger.release(p(1))).toBe(false);
    ledger.hold(p(3), 2);
    expect(ledger.usedUnits).toBe(3);
  });

  it('a reconnecting participant replaces its hold instead of adding to it', () => {
    const ledger = new CapacityLedger(ModuleId('sfu-1'), 2);
    ledger.hold(p(1), 2);
    ledger.hold(p(1), 2);
    expect(ledger.usedUnits).toBe(2);
  });
});

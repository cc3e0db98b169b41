import fc from 'fast-check';
import { MeetingId, ModuleId, type MeetedgeError } from '@meetedge/core';
import { freeUnits, placementCandidates, type PlacementModule } from './placement';

const M = MeetingId('m-1');

function mod(id: string, usedUnits: number, extra: Partial<PlacementModule> = {}): PlacementModule {
  return { id: ModuleId(id), live: true, draining: false, capacityUnits: 400, usedUnits, meetings: [], ...extra };
}

const ids = (request: Parameters<typeof placementCandidates>[0]) => placementCandidates(request).map((c) => c.moduleId);

describe('placementCandidates', () => {
  it('puts a module that already has the meeting first, then the least loaded', () => {
    const modules = [mod('a', 300, { meetings: [M] }), mod('b', 10), mod('c', 100)];
    expect(placementCandidates({ modules, meetingId: M, units: 1 })).toEqual([
      { moduleId: 'a', affinity: true },
      { moduleId: 'b', affinity: false },
      { moduleId: 'c', affinity: false },
    ]);
  });

  it('drops affinity once the meeting\'s module has no room for the units asked', () => {
    const modules = [mod('a', 399, { meetings: [M] }), mod('b', 10)];
    expect(ids({ modules, meetingId: M, units: 2 })).toEqual(['b']);
    expect(ids({ modules, meetingId: M, units: 1 })).toEqual(['a', 'b']);
  });

  it('orders several affinity modules least loaded first', () => {
    const modules = [mod('a', 200, { meetings: [M] }), mod('b', 50, { meetings: [M] }), mod('c', 0)];
    expect(ids({ modules, meetingId: M, units: 1 })).toEqual(['b', 'a', 'c']);
  });

  it('compares load as a share of capacity, then free units, then id', () => {
    const modules = [
      mod('small', 50, { capacityUnits: 100 }), // 50 %
      mod('big', 100, { capacityUnits: 400 }), // 25 %
      mod('twin-b', 0),
      mod('twin-a', 0),
      mod('roomy', 0, { capacityUnits: 800 }),
    ];
    expect(ids({ modules, meetingId: M, units: 1 })).toEqual(['roomy', 'twin-a', 'twin-b', 'big', 'small']);
  });

  it('never proposes draining, dead or excluded modules', () => {
    const modules = [mod('drain', 0, { draining: true, meetings: [M] }), mod('dead', 0, { live: false }), mod('skip', 0), mod('ok', 399)];
    expect(ids({ modules, meetingId: M, units: 1, excludeModuleIds: [ModuleId('skip')] })).toEqual(['ok']);
  });

  it('answers nothing when the zone is full or empty', () => {
    expect(ids({ modules: [mod('a', 400), mod('b', 399)], meetingId: M, units: 2 })).toEqual([]);
    expect(ids({ modules: [], meetingId: M, units: 1 })).toEqual([]);
  });

  describe('with a random source (power of two choices)', () => {
    /** A seeded generator (mulberry32), so the spread is the same on every run. */
    const seeded = (seed: number) => () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };

    it('spreads a burst of new meetings that all saw the same snapshot over equal modules', () => {
      const random = seeded(7);
      const modules = [mod('a', 0), mod('b', 0), mod('c', 0)];
      const firsts = new Map<string, number>();
      for (let i = 0; i < 3000; i++) {
        const first = ids({ modules, meetingId: MeetingId(`m-${i}`), units: 1, random })[0] ?? '';
        firsts.set(first, (firsts.get(first) ?? 0) + 1);
      }
      // Deterministic order would send all 3,000 to "a".
      for (const id of ['a', 'b', 'c']) expect(firsts.get(id)).toBeGreaterThan(800);
    });

    it('of the two drawn takes the less loaded, so a loaded module gets new meetings less often', () => {
      const random = seeded(11);
      const modules = [mod('hot', 300), mod('b', 50), mod('c', 60)];
      let hot = 0;
      for (let i = 0; i < 3000; i++) if (ids({ modules, meetingId: MeetingId(`m-${i}`), units: 1, random })[0] === 'hot') hot++;
      expect(hot).toBe(0);
    });

    it('still puts affinity first and proposes every eligible module once', () => {
      const modules = [mod('a', 300, { meetings: [M] }), mod('b', 10), mod('c', 100), mod('d', 0, { draining: true })];
      const got = ids({ modules, meetingId: M, units: 1, random: seeded(3) });
      expect(got[0]).toBe('a');
      expect([...got].sort()).toEqual(['a', 'b', 'c']);
    });
  });

  it('treats a module over a lowered capacity as full', () => {
    const over = mod('a', 500);
    expect(freeUnits(over)).toBe(0);
    expect(ids({ modules: [over], meetingId: M, units: 1 })).toEqual([]);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses units %p with INVALID_ARGUMENT', (units) => {
    expect(() => placementCandidates({ modules: [mod('a', 0)], meetingId: M, units })).toThrow(
      expect.objectContaining<Partial<MeetedgeError>>({ code: 'INVALID_ARGUMENT' }),
    );
  });

  describe('properties', () => {
    const meetingIds = ['m-1', 'm-2', 'm-3'].map(MeetingId);
    const arbModule = (id: string) =>
      fc
        .record({
          live: fc.boolean(),
          draining: fc.boolean(),
          capacityUnits: fc.integer({ min: 1, max: 400 }),
          usedUnits: fc.integer({ min: 0, max: 450 }),
          meetings: fc.subarray(meetingIds),
        })
        .map((m): PlacementModule => ({ id: ModuleId(id), ...m }));
    const arbRequest = fc
      .integer({ min: 0, max: 8 })
      .chain((n) =>
        fc.record({
          modules: fc.tuple(...Array.from({ length: n }, (_, i) => arbModule(`sfu-${i}`))),
          meetingId: fc.constantFrom(...meetingIds),
          units: fc.constantFrom(1, 2),
          excludeModuleIds: fc.subarray(Array.from({ length: n }, (_, i) => ModuleId(`sfu-${i}`))),
        }),
      );

    it('never proposes a module without room, a draining, dead or excluded one', () => {
      fc.assert(
        fc.property(arbRequest, (request) => {
          const byId = new Map(request.modules.map((m) => [m.id, m]));
          for (const { moduleId } of placementCandidates(request)) {
            const m = byId.get(moduleId);
            if (!m) return false;
            if (!m.live || m.draining || request.excludeModuleIds.includes(moduleId)) return false;
            if (m.capacityUnits - m.usedUnits < request.units) return false;
          }
          return true;
        }),
      );
    });

    it('proposes every eligible module exactly once, affinity ones first', () => {
      fc.assert(
        fc.property(arbRequest, (request) => {
          const candidates = placementCandidates(request);
          const eligible = request.modules.filter(
            (m) => m.live && !m.draining && !request.excludeModuleIds.includes(m.id) && m.capacityUnits - m.usedUnits >= request.units,
          );
          expect(new Set(candidates.map((c) => c.moduleId)).size).toBe(candidates.length);
          expect(candidates.map((c) => c.moduleId).sort()).toEqual(eligible.map((m) => m.id).sort());
          const firstOther = candidates.findIndex((c) => !c.affinity);
          if (firstOther >= 0) expect(candidates.slice(firstOther).every((c) => !c.affinity)).toBe(true);
          for (const c of candidates) expect(c.affinity).toBe(request.modules.find((m) => m.id === c.moduleId)?.meetings.includes(request.meetingId));
        }),
      );
    });
  });
});

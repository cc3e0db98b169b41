import fc from 'fast-check';
import { mayCross, mayEnter, pathOnward, streamKey, type StreamOrigin } from './origin';

describe('the loop rule', () => {
  const origin: StreamOrigin = { linkId: 'l-1', serverId: 'sfu-a', via: ['sfu-a', 'cloud'] };

  it('sends a stream published here over any link', () => {
    expect(mayCross(undefined, { linkId: 'l-1', peerServerId: 'cloud' })).toBe(true);
  });

  it('never sends a stream back over the link it came by, to its origin, or to a server it crossed', () => {
    expect(mayCross(origin, { linkId: 'l-1', peerServerId: 'sfu-z' })).toBe(false);
    expect(mayCross(origin, { linkId: 'l-2', peerServerId: 'sfu-a' })).toBe(false);
    expect(mayCross(origin, { linkId: 'l-2', peerServerId: 'cloud' })).toBe(false);
    expect(mayCross(origin, { linkId: 'l-2', peerServerId: 'sfu-b' })).toBe(true);
  });

  it('refuses an announcement that already crossed this server, and extends the path onward', () => {
    expect(mayEnter(['sfu-a', 'cloud'], 'cloud')).toBe(false);
    expect(mayEnter(['sfu-a', 'cloud'], 'sfu-b')).toBe(true);
    expect(pathOnward(undefined, 'sfu-a')).toEqual(['sfu-a']);
    expect(pathOnward(origin, 'sfu-b')).toEqual(['sfu-a', 'cloud', 'sfu-b']);
  });

  it('keys a stream by its origin server: the same stream id from two servers is two streams', () => {
    expect(streamKey('sfu-a', 't-1')).not.toBe(streamKey('sfu-b', 't-1'));
  });

  /**
   * Flood a stream through any graph of servers (cycles included), each
   * server forwarding what it takes in over every link the rule allows. In a
   * mesh a server may be offered the stream along two paths (the design's
   * shapes are stars, where that cannot happen: next test), but the flood
   * always ends, never brings the stream back to its publisher, and no path
   * passes a server twice.
   */
  it.each([
    ['the sender\'s rule alone', { sender: true, receiver: false }],
    ['the receiver\'s rule alone', { sender: false, receiver: true }],
    ['both rules', { sender: true, receiver: true }],
  ])('in any graph of links, with %s, a flood ends, never returns to the publisher, and no path passes a server twice', (_what, rules) => {
    const graph = fc.integer({ min: 2, max: 6 }).chain((n) =>
      fc.tuple(
        fc.constant(n),
        fc.uniqueArray(
          fc.tuple(fc.nat(n - 1), fc.nat(n - 1)).filter(([a, b]) => a !== b),
          { maxLength: 12, selector: ([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}` },
        ),
        fc.nat(n - 1),
      ),
    );
    fc.assert(
      fc.property(graph, ([, edges, publisherIndex]) => {
        const publisher = `s${publisherIndex}`;
        const links = edges.map(([a, b], i) => ({ id: `l${i}`, a: `s${a}`, b: `s${b}` }));
        const queue: { at: string; origin: StreamOrigin | undefined }[] = [{ at: publisher, origin: undefined }];
        for (let steps = 0; queue.length > 0; steps++) {
          if (steps > 100_000) return false;
          const next = queue.shift();
          if (!next) break;
          const { at, origin } = next;
          for (const link of links) {
            if (link.a !== at && link.b !== at) continue;
            const peer = link.a === at ? link.b : link.a;
            if (rules.sender && !mayCross(origin, { linkId: link.id, peerServerId: peer })) continue;
            const via = pathOnward(origin, at);
            if (rules.receiver && !mayEnter(via, peer)) continue;
            if (peer === publisher || via.includes(peer)) return false;
            queue.push({ at: peer, origin: { linkId: link.id, serverId: publisher, via } });
          }
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it('in a star around a top, every server gets each stream exactly once', () => {
    const leaves = ['sfu-a', 'sfu-b', 'sfu-c'];
    const links = leaves.map((leaf, i) => ({ id: `l${i}`, leaf }));
    for (const publisher of leaves) {
      const got = new Map<string, number>();
      const up = links.find((l) => l.leaf === publisher);
      if (!up) throw new Error(`no link for ${publisher}`);
      // Publisher → top.
      expect(mayCross(undefined, { linkId: up.id, peerServerId: 'top' })).toBe(true);
      const atTop: StreamOrigin = { linkId: up.id, serverId: publisher, via: pathOnward(undefined, publisher) };
      got.set('top', 1);
      // Top → the other leaves (and never back to the publisher).
      for (const link of links) {
        if (!mayCross(atTop, { linkId: link.id, peerServerId: link.leaf })) continue;
        const via = pathOnward(atTop, 'top');
        if (!mayEnter(via, link.leaf)) continue;
        got.set(link.leaf, (got.get(link.leaf) ?? 0) + 1);
        const atLeaf: StreamOrigin = { linkId: link.id, serverId: publisher, via };
        // A leaf sends nothing back up.
        expect(mayCross(atLeaf, { linkId: link.id, peerServerId: 'top' })).toBe(false);
      }
      expect(Object.fromEntries(got)).toEqual(Object.fromEntries([['top', 1], ...leaves.filter((l) => l !== publisher).map((l) => [l, 1])]));
    }
  });
});

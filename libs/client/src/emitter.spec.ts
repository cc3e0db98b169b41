import { Emitter } from './emitter';

class Source extends Emitter<{ tick: [number]; done: [] }> {
  tick(n: number): boolean {
    return this.emit('tick', n);
  }
}

describe('Emitter', () => {
  it('calls on() listeners on every event and once() listeners on the next one only', () => {
    const source = new Source();
    const every = jest.fn();
    const next = jest.fn();
    source.on('tick', every).once('tick', next);
    source.tick(1);
    source.tick(2);
    expect(every.mock.calls).toEqual([[1], [2]]);
    expect(next.mock.calls).toEqual([[1]]);
  });

  it('off() stops a listener, including one added with once()', () => {
    const source = new Source();
    const listener = jest.fn();
    source.once('tick', listener).off('tick', listener);
    expect(source.tick(1)).toBe(false);
    expect(listener).not.toHaveBeenCalled();
  });

  it('a throwing listener stops neither the others nor emit(); its error is rethrown on its own', () => {
    const source = new Source();
    const after = jest.fn();
    const boom = new Error('listener bug');
    source.on('tick', () => {
      throw boom;
    });
    source.on('tick', after);
    const rethrow = jest.spyOn(globalThis, 'queueMicrotask').mockImplementation(() => undefined);
    let emitted: boolean;
    let rethrown: unknown[];
    try {
      emitted = source.tick(1);
      rethrown = rethrow.mock.calls.map(([callback]) => callback);
    } finally {
      rethrow.mockRestore();
    }
    expect(emitted).toBe(true);
    expect(after).toHaveBeenCalledWith(1);
    expect(rethrown).toHaveLength(1);
    expect(rethrown[0]).toThrow(boom);
  });
});

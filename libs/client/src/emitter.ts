/**
 * A small typed event emitter that runs in Node and in a browser (the client
 * SDK cannot use node:events in a page). Events are a map of tuple types:
 * `{ closed: [{ code: number }] }` makes `on('closed', ({ code }) => …)` typed.
 */
type Listener<Args extends unknown[]> = (...args: Args) => void;
/** Any listener: every `(...args: T) => void` is one. */
type Entry = { listener: (...args: never) => void; once: boolean };

export class Emitter<Events extends { [E in keyof Events]: unknown[] }> {
  private readonly listeners = new Map<keyof Events, Entry[]>();

  /** Calls `listener` on every `event`. */
  on<E extends keyof Events>(event: E, listener: Listener<Events[E]>): this {
    return this.add(event, listener, false);
  }

  /** Calls `listener` on the next `event` only. */
  once<E extends keyof Events>(event: E, listener: Listener<Events[E]>): this {
    return this.add(event, listener, true);
  }

  /** Stops calls to `listener` (added with `on` or `once`). */
  off<E extends keyof Events>(event: E, listener: Listener<Events[E]>): this {
    return this.remove(event, (entry) => entry.listener === listener);
  }

  /**
   * Calls the listeners of `event` in order; true if there were any. A
   * listener that throws stops neither the others nor the emitter's owner:
   * its error is rethrown on its own (an uncaught exception, as from a timer).
   */
  protected emit<E extends keyof Events>(event: E, ...args: Events[E]): boolean {
    const entries = this.listeners.get(event);
    if (!entries?.length) return false;
    for (const entry of [...entries]) {
      if (entry.once) this.remove(event, (other) => other === entry);
      try {
        (entry.listener as Listener<Events[E]>)(...args);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    return true;
  }

  private remove(event: keyof Events, matches: (entry: Entry) => boolean): this {
    const entries = this.listeners.get(event)?.filter((entry) => !matches(entry));
    if (entries?.length) this.listeners.set(event, entries);
    else this.listeners.delete(event);
    return this;
  }

  private add<E extends keyof Events>(event: E, listener: Listener<Events[E]>, once: boolean): this {
    const entries = this.listeners.get(event) ?? [];
    entries.push({ listener, once });
    this.listeners.set(event, entries);
    return this;
  }
}

/**
 * The ZCP's half of "the cloud zone controller tells modules through their
 * ZCPs": each cascade need of the zone becomes a SetCascade on the Connect
 * stream of every module of the zone that carries the meeting and is
 * connected here. Every ZCP of the zone does the same; SetCascade is
 * idempotent on the module, so the duplicates cost nothing.
 *
 * Work for one meeting runs in order, and each step reads the need as it is
 * when it sends, not as it was when it was queued: whatever the interleaving
 * of changes, placements and registrations, the last command a module gets
 * for a meeting is the current one.
 */
import type { MeetingId, ModuleId, ZoneId } from '@meetedge/core';
import { Counter, type Logger, type ServiceMetrics } from '@meetedge/service-kit';
import type { ClusterState } from '@meetedge/state';
import type { ModuleRegistry } from '../registry/module-registry';
import { setCascadeCommand } from './need';
import type { CascadeNeedsView } from './needs-watcher';

export interface CascadeRelayOptions {
  /** This ZCP's zone: modules of other zones are never told. */
  readonly zoneId: ZoneId;
  readonly state: ClusterState;
  /** Where the commands go (modules connected to this ZCP). */
  readonly modules: Pick<ModuleRegistry, 'send' | 'connectedModules'>;
  readonly needs: CascadeNeedsView;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  /** A step the cluster state failed is tried again after this long, ms. Default 1 000. */
  readonly retryMs?: number;
}

export class CascadeRelay {
  /** Modules this ZCP told to link each meeting, so that `ended` reaches them even once they stop carrying it. */
  private readonly linked = new Map<MeetingId, Set<ModuleId>>();
  /** The tail of each meeting's queue of steps. */
  private readonly queues = new Map<MeetingId, Promise<void>>();
  private readonly retries = new Set<NodeJS.Timeout>();
  private readonly logger: Logger;
  private readonly sent: Counter<'enabled'>;
  private readonly unwatch: () => void;
  private closed = false;

  constructor(private readonly options: CascadeRelayOptions) {
    this.logger = options.logger.child({ component: 'cascade-relay' });
    this.sent = new Counter({
      name: 'meetedge_zcp_set_cascade_sent_total',
      help: 'SetCascade commands this ZCP sent to modules, by enabled (open) or not (close)',
      labelNames: ['enabled'] as const,
      registers: [options.metrics.registry],
    });
    this.unwatch = options.needs.watch((change) => {
      const meetingId = change.type === 'needed' ? change.need.meetingId : change.meetingId;
      this.enqueue(meetingId, () => this.sync(meetingId));
    });
  }

  /** A participant of the meeting was placed on the module: it links too if the meeting needs it. */
  onPlaced(moduleId: ModuleId, meetingId: MeetingId): void {
    if (!this.needed(meetingId)) return;
    this.enqueue(meetingId, async () => this.link(meetingId, [moduleId]));
  }

  /** A module (re)registered here: it is told every current need of the meetings it carries. */
  onRegistered(moduleId: ModuleId): void {
    for (const meetingId of this.options.needs.current().keys()) {
      this.enqueue(meetingId, async () => {
        if ((await this.options.state.meetingModules(meetingId)).includes(moduleId)) this.link(meetingId, [moduleId]);
      });
    }
  }

  /** Stops listening and retrying; waits for the steps under way. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unwatch();
    for (const timer of this.retries) clearTimeout(timer);
    this.retries.clear();
    await Promise.all(this.queues.values());
  }

  /** Brings the meeting's modules to its current need: link to the target, or no link. */
  private async sync(meetingId: MeetingId): Promise<void> {
    // Modules told to link hear the end at once, even while the cluster state is down.
    const told = this.needed(meetingId) ? new Set<ModuleId>() : this.unlink(meetingId);
    const carriers = await this.carriers(meetingId);
    if (this.needed(meetingId)) this.link(meetingId, carriers);
    else this.send(meetingId, carriers.filter((id) => !told.has(id)));
  }

  private needed(meetingId: MeetingId): boolean {
    return this.options.needs.current().has(meetingId);
  }

  /** Tells the modules told to link the meeting that it no longer needs it; returns them. */
  private unlink(meetingId: MeetingId): Set<ModuleId> {
    const told = this.linked.get(meetingId) ?? new Set<ModuleId>();
    this.linked.delete(meetingId);
    this.send(meetingId, told);
    return told;
  }

  /** Tells the modules to link the meeting, if it still needs it. */
  private link(meetingId: MeetingId, moduleIds: readonly ModuleId[]): void {
    if (!this.needed(meetingId)) return;
    let told = this.linked.get(meetingId);
    if (!told) {
      told = new Set();
      this.linked.set(meetingId, told);
    }
    for (const id of this.send(meetingId, moduleIds)) told.add(id);
  }

  /** Sends the meeting's current SetCascade to each module connected here; returns those reached. */
  private send(meetingId: MeetingId, moduleIds: Iterable<ModuleId>): ModuleId[] {
    const need = this.options.needs.current().get(meetingId);
    const command = setCascadeCommand(meetingId, need);
    const reached = [...moduleIds].filter((id) => this.options.modules.send(id, command));
    if (reached.length === 0) return reached;
    this.sent.inc({ enabled: String(need !== undefined) }, reached.length);
    this.logger.info({ meetingId, moduleIds: reached, enabled: need !== undefined, targetServerId: need?.targetServerId, reason: need?.reason }, 'SetCascade sent');
    return reached;
  }

  /** Modules of this zone connected here that carry the meeting. */
  private async carriers(meetingId: MeetingId): Promise<ModuleId[]> {
    const { state, modules, zoneId } = this.options;
    const connected = new Set(modules.connectedModules());
    const ids = (await state.meetingModules(meetingId)).filter((id) => connected.has(id));
    const found = await Promise.all(ids.map((id) => state.getModule(id)));
    return ids.filter((_id, i) => found[i]?.zoneId === zoneId);
  }

  /** Runs a step after the meeting's earlier ones; one the cluster state failed is queued again later. */
  private enqueue(meetingId: MeetingId, step: () => Promise<void>): void {
    if (this.closed) return;
    const run = (this.queues.get(meetingId) ?? Promise.resolve())
      .then(step)
      .catch((err: unknown) => {
        this.logger.warn({ err, meetingId }, 'cascade step failed; trying again');
        this.retryLater(meetingId, step);
      })
      .finally(() => {
        if (this.queues.get(meetingId) === run) this.queues.delete(meetingId);
      });
    this.queues.set(meetingId, run);
  }

  private retryLater(meetingId: MeetingId, step: () => Promise<void>): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.retries.delete(timer);
      this.enqueue(meetingId, step);
    }, this.options.retryMs ?? 1000);
    timer.unref();
    this.retries.add(timer);
  }
}

/**
 * A cloud zone controller for cascade tests: a real gRPC ZoneController on
 * loopback whose WatchCascadeNeeds streams replay, sync and change exactly
 * as the test says, including what a real controller must never do (a seq
 * gap, a malformed event).
 */
import { Server, ServerCredentials, type ServerWritableStream } from '@grpc/grpc-js';
import { v1 } from '@meetedge/proto';

type Stream = ServerWritableStream<v1.WatchCascadeNeedsRequest, v1.CascadeNeedEvent>;

interface Watcher {
  readonly call: Stream;
  seq: number;
  /** True once the replay and `synced` were sent. */
  synced: boolean;
}

/** A need as the controller sends it, with the test's defaults. */
export const needed = (meetingId: string, overrides: Partial<v1.CascadeNeeded> = {}): v1.CascadeNeeded => ({
  meetingId,
  targetServerId: 'cloud-mmr-1',
  targetAddress: '127.0.0.1:9701',
  reason: v1.CascadeReason.REMOTE_PARTICIPANT,
  ...overrides,
});

export class FakeZoneController {
  /** Every WatchCascadeNeeds request, in order. */
  readonly requests: v1.WatchCascadeNeedsRequest[] = [];
  /** While true, new streams get nothing until `release()`. */
  holdReplay = false;
  private readonly needs = new Map<string, v1.CascadeNeeded>();
  private readonly watchers = new Set<Watcher>();

  private port = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeZoneController> {
    const server = new Server();
    const fake = new FakeZoneController(server);
    server.addService(v1.ZoneControllerService, {
      getMeetingServerInfo(_call, callback) {
        callback(new Error('not in this fake'));
      },
      watchCascadeNeeds(call: Stream) {
        fake.open(call);
      },
    } satisfies v1.ZoneControllerServer);
    fake.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    return fake;
  }

  /** Where the ZCP finds it, "host:port". */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Open streams. */
  streams(): number {
    return this.watchers.size;
  }

  /** A need starts (or changes); synced streams hear it. */
  need(meetingId: string, overrides: Partial<v1.CascadeNeeded> = {}): void {
    const value = needed(meetingId, overrides);
    this.needs.set(meetingId, value);
    this.broadcast({ $case: 'needed', value });
  }

  /** A need ends; synced streams hear it. */
  end(meetingId: string): void {
    this.needs.delete(meetingId);
    this.broadcast({ $case: 'ended', value: { meetingId } });
  }

  /** A need ends without a word to open streams: only the next replay leaves it out. */
  forget(meetingId: string): void {
    this.needs.delete(meetingId);
  }

  /** Sends any event to every synced stream; `skip` seqs are left out before it (a gap). */
  sendRaw(kind: v1.CascadeNeedEvent['kind'], skip = 0): void {
    for (const w of this.watchers) {
      if (!w.synced) continue;
      w.seq += skip;
      w.call.write({ seq: ++w.seq, kind });
    }
  }

  /** Sends the replay and `synced` to the streams held by `holdReplay`. */
  release(): void {
    this.holdReplay = false;
    for (const w of this.watchers) if (!w.synced) this.replay(w);
  }

  /** Ends every open stream cleanly (a controller restart looks like this to a ZCP). */
  drop(): void {
    for (const w of this.watchers) w.call.end();
    this.watchers.clear();
  }

  async close(): Promise<void> {
    this.drop();
    this.server.forceShutdown();
  }

  private open(call: Stream): void {
    this.requests.push(call.request);
    const watcher: Watcher = { call, seq: 0, synced: false };
    this.watchers.add(watcher);
    const forget = () => this.watchers.delete(watcher);
    call.on('cancelled', forget);
    call.on('close', forget);
    if (!this.holdReplay) this.replay(watcher);
  }

  private replay(w: Watcher): void {
    for (const value of this.needs.values()) w.call.write({ seq: ++w.seq, kind: { $case: 'needed', value } });
    w.call.write({ seq: ++w.seq, kind: { $case: 'synced', value: { replayed: this.needs.size } } });
    w.synced = true;
  }

  private broadcast(kind: v1.CascadeNeedEvent['kind']): void {
    this.sendRaw(kind);
  }
}

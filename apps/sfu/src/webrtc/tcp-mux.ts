import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Address, InjectedTcpTransport, TcpTransportFactory, TcpTransportRequest } from 'werift';
import { bindingRequestUfrag, isDtls } from './stun';

/** 5 s for a new connection's first frame (an ICE check arrives within milliseconds of connecting). */
export const DEFAULT_FIRST_FRAME_TIMEOUT_MS = 5_000;
/**
 * Largest frame accepted. ICE, DTLS and SRTP packets are sized for a UDP path
 * (≤ ~1,500 bytes; werift's DTLS flights stay well under this), so anything
 * bigger is not WebRTC — an HTTP request or a TLS hello read as a length, too.
 */
export const DEFAULT_MAX_FRAME_BYTES = 4_096;
/** Connections that have not sent their first frame yet, at most. */
export const DEFAULT_MAX_PENDING_CONNECTIONS = 256;
/** TCP connections one werift connection may hold (a client opens one per candidate pair it checks). */
export const DEFAULT_MAX_CONNECTIONS_PER_TRANSPORT = 8;
/** Unsent output a connection may queue before frames to it are dropped (~0.4 s of 20 Mbit/s). */
export const DEFAULT_MAX_WRITE_BUFFER_BYTES = 1024 * 1024;

const FRAME_HEADER_BYTES = 2;
/** Frames held after DTLS records before the connection stops reading until they are delivered. */
const MAX_BACKLOG_FRAMES = 256;

/** Where the shared media TCP port listens, and its limits. */
export interface TcpMuxOptions {
  /** Address the listener binds to, e.g. '0.0.0.0'. Its family (IPv4/IPv6) is the mux's family. */
  listenIp: string;
  /** TCP port shared by every connection: the media port (8801) in production; 0 picks a free port (tests). */
  port: number;
  /** A connection whose first frame is not complete by then is closed. Default 5,000 ms. */
  firstFrameTimeoutMs?: number;
  /** A connection announcing a larger frame is closed. Default 4,096 bytes (RFC 4571 allows 65,535). */
  maxFrameBytes?: number;
  /** More connections waiting for their first frame are closed at once. Default 256. */
  maxPendingConnections?: number;
  /** More connections for one werift connection are closed at once. Default 8. */
  maxConnectionsPerTransport?: number;
  /** Frames to a connection with more unsent bytes queued are dropped. Default 1 MiB. */
  maxWriteBufferBytes?: number;
}

/** Counters of the shared TCP port since it opened. */
export interface TcpMuxStats {
  /** TCP connections accepted by the listener. */
  connectionsAccepted: number;
  /** Connections whose first frame named an open werift connection, handed to it. */
  connectionsAssigned: number;
  /** Closed: the first frame was not an ICE Binding request (empty, not STUN, another STUN message). */
  refusedGarbage: number;
  /** Closed: a frame (first or later) longer than `maxFrameBytes`. */
  refusedOversized: number;
  /** Closed: the first frame's USERNAME names no open werift connection. */
  refusedUnknownUfrag: number;
  /** Closed: no complete first frame within `firstFrameTimeoutMs`. */
  refusedTimeout: number;
  /** Closed: too many connections waiting for a first frame, or for one werift connection. */
  refusedOverLimit: number;
  /** Complete frames received (refused first frames included) and their bytes, length prefixes excluded. */
  framesIn: number;
  bytesIn: number;
  /** Frames sent and their bytes, length prefixes excluded. */
  framesOut: number;
  bytesOut: number;
  /** Frames not sent because the connection had `maxWriteBufferBytes` unsent (a slow or stalled client). */
  framesDroppedOut: number;
  /** Errors of accepted connections (resets, timeouts) and of the listener; the connection is closed. */
  socketErrors: number;
  /** Exceptions thrown by werift while handling a frame (the frame is dropped). */
  handlerErrors: number;
}

type Limits = Required<Omit<TcpMuxOptions, 'listenIp' | 'port'>>;

/**
 * One listening TCP socket for the passive ICE-TCP host candidates of many
 * werift connections (RFC 6544), on the same port number as the UDP mux. Each
 * accepted connection carries RFC 4571 frames (a 2-byte length, then the
 * packet). Its first frame must be an ICE Binding request whose USERNAME names
 * the ufrag of an open werift connection: the TCP connection then belongs to
 * that werift connection for good, and every frame goes to it. Anything else —
 * garbage, an oversized frame, an unknown ufrag, no first frame in time —
 * closes the TCP connection and is counted; nobody else is affected.
 *
 * Pass `transportFactory` as werift's `iceTcpTransportFactory` (see
 * patches/werift+0.24.4+009+tcp-transport-factory.patch and docs/werift.md).
 */
export class TcpMux {
  private readonly transports = new Set<MuxedTcpTransport>();
  private readonly byUfrag = new Map<string, MuxedTcpTransport>();
  /** Connections waiting for their first frame. */
  private readonly pending = new Set<TcpConnection>();
  private readonly counters: TcpMuxStats = {
    connectionsAccepted: 0,
    connectionsAssigned: 0,
    refusedGarbage: 0,
    refusedOversized: 0,
    refusedUnknownUfrag: 0,
    refusedTimeout: 0,
    refusedOverLimit: 0,
    framesIn: 0,
    bytesIn: 0,
    framesOut: 0,
    bytesOut: 0,
    framesDroppedOut: 0,
    socketErrors: 0,
    handlerErrors: 0,
  };
  private isClosed = false;
  /** The listening port (the one every passive TCP candidate advertises). */
  readonly port: number;
  readonly socketType: 'tcp4' | 'tcp6';
  /** @internal */
  readonly limits: Limits;

  /** Starts listening; rejects if the port is taken. */
  static async open(options: TcpMuxOptions): Promise<TcpMux> {
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: options.listenIp, port: options.port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new TcpMux(server, options);
  }

  private constructor(
    private readonly server: Server,
    options: TcpMuxOptions,
  ) {
    const bound = server.address() as AddressInfo;
    this.port = bound.port;
    this.socketType = bound.family === 'IPv6' ? 'tcp6' : 'tcp4';
    this.limits = {
      firstFrameTimeoutMs: options.firstFrameTimeoutMs ?? DEFAULT_FIRST_FRAME_TIMEOUT_MS,
      maxFrameBytes: Math.min(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, 0xffff),
      maxPendingConnections: options.maxPendingConnections ?? DEFAULT_MAX_PENDING_CONNECTIONS,
      maxConnectionsPerTransport: options.maxConnectionsPerTransport ?? DEFAULT_MAX_CONNECTIONS_PER_TRANSPORT,
      maxWriteBufferBytes: options.maxWriteBufferBytes ?? DEFAULT_MAX_WRITE_BUFFER_BYTES,
    };
    server.on('connection', (socket) => this.accept(socket));
    server.on('error', () => {
      this.counters.socketErrors++;
    });
  }

  /** werift's `iceTcpTransportFactory`: one transport per passive TCP host candidate, all on this port. */
  readonly transportFactory: TcpTransportFactory = async (request) => {
    if (this.isClosed) throw new Error('TcpMux is closed');
    if (request.socketType !== this.socketType) {
      throw new Error(`TcpMux is ${this.socketType}; cannot serve a ${request.socketType} candidate`);
    }
    const transport = new MuxedTcpTransport(this, request);
    this.transports.add(transport);
    return transport;
  };

  get closed(): boolean {
    return this.isClosed;
  }

  /** Open werift connection transports on this port. */
  get transportCount(): number {
    return this.transports.size;
  }

  /** Open TCP connections: waiting for their first frame, or assigned. */
  get connectionCount(): number {
    let count = this.pending.size;
    for (const transport of this.transports) count += transport.connectionCount;
    return count;
  }

  stats(): TcpMuxStats {
    return { ...this.counters };
  }

  /** Stops listening and closes every connection; every transport is closed too. Idempotent. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of this.pending) connection.destroy();
    this.pending.clear();
    for (const transport of this.transports) transport.parentClosed();
    this.transports.clear();
    this.byUfrag.clear();
    await closing;
  }

  /** @internal Adds to a counter. */
  count(counter: keyof TcpMuxStats, by = 1): void {
    this.counters[counter] += by;
  }

  /** @internal A complete first frame arrived: hand the connection to the werift connection it names, or close it. */
  assign(connection: TcpConnection, frame: Buffer): MuxedTcpTransport | undefined {
    this.pending.delete(connection);
    const ufrag = bindingRequestUfrag(frame);
    if (ufrag === undefined) return this.refuse(connection, 'refusedGarbage');
    const transport = this.findByUfrag(ufrag);
    if (!transport) return this.refuse(connection, 'refusedUnknownUfrag');
    if (transport.connectionCount >= this.limits.maxConnectionsPerTransport) return this.refuse(connection, 'refusedOverLimit');
    transport.attach(connection);
    this.counters.connectionsAssigned++;
    return transport;
  }

  /** @internal Closes a connection for `reason`. */
  refuse(connection: TcpConnection, reason: keyof TcpMuxStats): undefined {
    this.pending.delete(connection);
    this.counters[reason]++;
    connection.destroy();
    return undefined;
  }

  /** @internal A pending connection closed. */
  forget(connection: TcpConnection): void {
    this.pending.delete(connection);
  }

  /** @internal A transport closed: forget it and its ufrags. */
  detach(transport: MuxedTcpTransport): void {
    if (!this.transports.delete(transport)) return;
    for (const [ufrag, owner] of this.byUfrag) {
      if (owner === transport) this.byUfrag.delete(ufrag);
    }
  }

  private accept(socket: Socket): void {
    this.counters.connectionsAccepted++;
    if (this.isClosed || !socket.remoteAddress || socket.remotePort === undefined) {
      socket.destroy();
      return;
    }
    const connection = new TcpConnection(this, socket, [withoutZone(socket.remoteAddress), socket.remotePort]);
    if (this.pending.size >= this.limits.maxPendingConnections) {
      this.refuse(connection, 'refusedOverLimit');
      return;
    }
    this.pending.add(connection);
  }

  private findByUfrag(ufrag: string): MuxedTcpTransport | undefined {
    const known = this.byUfrag.get(ufrag);
    if (known) return known;
    // First connection for this ufrag (a new werift connection or ICE generation).
    for (const transport of this.transports) {
      if (transport.answersTo(ufrag)) {
        this.byUfrag.set(ufrag, transport);
        return transport;
      }
    }
    return undefined;
  }
}

/** One accepted TCP connection: RFC 4571 framing both ways. */
class TcpConnection {
  /** The werift connection it belongs to, once its first frame named one. */
  transport: MuxedTcpTransport | undefined;
  closed = false;
  readonly key: string;
  /** Bytes of an incomplete frame carried over from earlier reads. */
  private partial: Buffer | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Frames read after a DTLS record, waiting for the next turn of the event loop. */
  private backlog: Buffer[] = [];
  private waiting = false;

  constructor(
    private readonly mux: TcpMux,
    private readonly socket: Socket,
    readonly remote: Address,
  ) {
    this.key = addressKey(remote[0], remote[1]);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('error', () => mux.count('socketErrors'));
    socket.on('close', () => this.closedByPeer());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.transport && !this.closed) mux.refuse(this, 'refusedTimeout');
    }, mux.limits.firstFrameTimeoutMs);
  }

  /** Sends one frame unless too much is queued already. */
  write(frame: Buffer): boolean {
    if (this.closed || frame.length > 0xffff) return false;
    if (this.socket.writableLength > this.mux.limits.maxWriteBufferBytes) {
      this.mux.count('framesDroppedOut');
      return false;
    }
    // One buffer, one write: with TCP_NODELAY two writes could become two segments.
    const framed = Buffer.allocUnsafe(FRAME_HEADER_BYTES + frame.length);
    framed.writeUInt16BE(frame.length, 0);
    frame.copy(framed, FRAME_HEADER_BYTES);
    this.mux.count('framesOut');
    this.mux.count('bytesOut', frame.length);
    this.socket.write(framed);
    return true;
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearTimer();
    this.partial = undefined;
    this.backlog = [];
    this.socket.destroy();
  }

  /**
   * werift finishes a DTLS handshake in promise callbacks. Datagrams each come
   * in a callback of their own, so those run before the next one; the frames of
   * one TCP read would not let them, and the SRTP that follows a client's last
   * handshake flight would reach werift before its keys (measured: the first
   * RTP packet sent after the client connected was lost). So the frames after a
   * DTLS record wait for the next turn of the event loop.
   */
  private yieldAfterDtls(): void {
    this.waiting = true;
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.waiting = false;
    while (this.backlog.length > 0 && !this.closed) {
      const frame = this.backlog.shift() as Buffer;
      this.transport?.deliver(frame, this.remote);
      if (isDtls(frame) && !this.closed) {
        this.yieldAfterDtls();
        return;
      }
    }
    this.backlog = [];
    if (!this.closed && this.socket.isPaused()) this.socket.resume();
  };

  private closedByPeer(): void {
    this.closed = true;
    this.clearTimer();
    this.partial = undefined;
    this.backlog = [];
    if (this.transport) this.transport.release(this);
    else this.mux.forget(this);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private read(chunk: Buffer): void {
    if (this.closed) return;
    const data = this.partial ? Buffer.concat([this.partial, chunk]) : chunk;
    this.partial = undefined;
    let offset = 0;
    while (data.length - offset >= FRAME_HEADER_BYTES) {
      const length = data.readUInt16BE(offset);
      if (length > this.mux.limits.maxFrameBytes) {
        this.mux.refuse(this, 'refusedOversized');
        return;
      }
      if (data.length - offset < FRAME_HEADER_BYTES + length) break;
      const frame = data.subarray(offset + FRAME_HEADER_BYTES, offset + FRAME_HEADER_BYTES + length);
      offset += FRAME_HEADER_BYTES + length;
      this.mux.count('framesIn');
      this.mux.count('bytesIn', length);
      if (!this.transport) {
        this.clearTimer();
        if (!this.mux.assign(this, frame)) return;
      }
      if (this.waiting) {
        this.backlog.push(frame);
        // A peer sending DTLS record after record must not fill our memory: stop reading.
        if (this.backlog.length >= MAX_BACKLOG_FRAMES) this.socket.pause();
        continue;
      }
      // werift may close this connection while handling a frame (a pair was selected).
      this.transport?.deliver(frame, this.remote);
      if (this.closed) return;
      if (isDtls(frame)) this.yieldAfterDtls();
    }
    if (offset < data.length) {
      // Keep the rest of an incomplete frame (copied out of a longer read, not a view pinning it).
      this.partial = offset === 0 ? data : Buffer.from(data.subarray(offset));
    }
  }
}

/** The passive TCP candidate of one werift connection: the TCP connections of the mux that named its ufrag. */
export class MuxedTcpTransport implements InjectedTcpTransport {
  readonly type = 'tcp' as const;
  readonly socketType: 'tcp4' | 'tcp6';
  closed = false;
  /** Set by werift's InjectedTcpPassiveProtocol: where received frames go. */
  onData: (frame: Buffer, remoteAddr: Address) => void = () => undefined;
  private readonly connections = new Map<string, TcpConnection>();

  constructor(
    private readonly mux: TcpMux,
    private readonly request: TcpTransportRequest,
  ) {
    this.socketType = request.socketType;
  }

  /** The advertised candidate address and the shared port. */
  get address(): AddressInfo {
    return { address: this.request.address, family: this.socketType === 'tcp6' ? 'IPv6' : 'IPv4', port: this.mux.port };
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** True if the werift connection answers to this ufrag (current or earlier ICE generation). */
  answersTo(ufrag: string): boolean {
    return !this.closed && this.request.localUsernames().includes(ufrag);
  }

  send = async (frame: Buffer, remoteAddr: Address): Promise<void> => {
    if (this.closed) return;
    const connection = this.connections.get(addressKey(remoteAddr[0], remoteAddr[1]));
    if (!connection) throw new Error(`no TCP connection from ${remoteAddr[0]}:${remoteAddr[1]}`);
    connection.write(frame);
  };

  prune = (keep?: Address): void => {
    const kept = keep ? addressKey(keep[0], keep[1]) : undefined;
    for (const [key, connection] of this.connections) {
      if (key === kept) continue;
      this.connections.delete(key);
      connection.destroy();
    }
  };

  close = async (): Promise<void> => {
    if (this.closed) return;
    this.closed = true;
    this.prune();
    this.mux.detach(this);
  };

  /** @internal A connection named this transport's ufrag in its first frame. */
  attach(connection: TcpConnection): void {
    connection.transport = this;
    this.connections.set(connection.key, connection);
  }

  /** @internal A connection closed. */
  release(connection: TcpConnection): void {
    if (this.connections.get(connection.key) === connection) this.connections.delete(connection.key);
  }

  /** @internal */
  deliver(frame: Buffer, from: Address): void {
    if (this.closed) return;
    try {
      this.onData(frame, from);
    } catch {
      this.mux.count('handlerErrors');
    }
  }

  /** @internal The mux closed under this transport. */
  parentClosed(): void {
    this.closed = true;
    this.prune();
  }
}

/** "fe80::1%eth0" → "fe80::1", as the UDP mux reports addresses. */
function withoutZone(address: string): string {
  const percent = address.indexOf('%');
  return percent === -1 ? address : address.slice(0, percent);
}

function addressKey(host: string, port: number): string {
  return `${host}:${port}`;
}

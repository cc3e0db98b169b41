import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP, type AddressInfo } from 'node:net';
import { destination, type DatagramBatch, type Destination, type FastPath, type FastSrtpContext } from '@meetedge/fastpath';
import type { Address, InjectedUdpTransport, UdpTransportFactory, UdpTransportRequest } from 'werift';
import { bindingRequestUfrag } from './stun';

/** Where and how the shared media socket binds. */
export interface UdpMuxOptions {
  /** Address the socket binds to, e.g. '0.0.0.0' or a private IP. Its family (IPv4/IPv6) is the mux's family. */
  listenIp: string;
  /** UDP port shared by every connection: 8801 in production; 0 picks a free port (tests). */
  port: number;
  /** SO_RCVBUF in bytes. Linux caps it at net.core.rmem_max; default: the kernel default (~208 KB). */
  recvBufferSize?: number;
  /** SO_SNDBUF in bytes. Linux caps it at net.core.wmem_max; default: the kernel default. */
  sendBufferSize?: number;
  /**
   * The native fast path (libs/fastpath): forwarded RTP is protected there and
   * a turn's RTP leaves in one sendmmsg. Without it, and for STUN, DTLS and
   * SRTCP always: Node's dgram.
   */
  fastPath?: FastPath;
}

/** Counters of the shared socket since it opened. */
export interface UdpMuxStats {
  datagramsIn: number;
  bytesIn: number;
  datagramsOut: number;
  bytesOut: number;
  /** Non-STUN datagrams from an address no connection has used: dropped. */
  droppedUnknownSource: number;
  /** Binding requests for a ufrag no open connection answers to: dropped. */
  droppedUnknownUfrag: number;
  /** 'error' events of the socket after it bound (without a listener they would crash the process). */
  socketErrors: number;
  /** Exceptions thrown by werift while handling a datagram (the datagram is dropped). */
  handlerErrors: number;
  /** Forwarded datagrams the kernel did not take (send buffer full, destination refused): dropped. Fast path only. */
  sendDropped: number;
}

/**
 * One UDP socket for the ICE host candidates of many werift connections, as
 * mediasoup's WebRtcServer and LiveKit's UDPMux do. A datagram goes to the
 * connection that owns its source address; a Binding request from a new address
 * goes to the connection whose ufrag its USERNAME names, and that address then
 * belongs to it. A connection also owns the addresses it sends to first, so the
 * answers to its own connectivity checks find it.
 *
 * Pass `transportFactory` as werift's `iceUdpTransportFactory` (see
 * patches/werift+0.24.4+008+udp-transport-factory.patch and docs/werift.md).
 * Each connection must gather exactly one host address of the mux's family
 * (peer-factory.ts configures that), since the address is the demux key.
 */
export class UdpMux {
  private readonly transports = new Set<MuxedUdpTransport>();
  private readonly byAddress = new Map<string, MuxedUdpTransport>();
  private readonly byUfrag = new Map<string, MuxedUdpTransport>();
  private readonly counters: UdpMuxStats = {
    datagramsIn: 0,
    bytesIn: 0,
    datagramsOut: 0,
    bytesOut: 0,
    droppedUnknownSource: 0,
    droppedUnknownUfrag: 0,
    socketErrors: 0,
    handlerErrors: 0,
    sendDropped: 0,
  };
  /** Sends forwarded RTP when the fast path is on (see `fastPath`). */
  private readonly batch: DatagramBatch | undefined;
  private isClosed = false;
  /** The bound port (the one every host candidate advertises). */
  readonly port: number;
  readonly socketType: 'udp4' | 'udp6';

  /** Binds the shared socket; rejects if the port is taken. */
  static async open(options: UdpMuxOptions): Promise<UdpMux> {
    const socket = createSocket({
      type: isIP(options.listenIp) === 6 ? 'udp6' : 'udp4',
      recvBufferSize: options.recvBufferSize,
      sendBufferSize: options.sendBufferSize,
    });
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => {
        socket.close();
        reject(error);
      };
      socket.once('error', fail);
      socket.bind({ address: options.listenIp, port: options.port }, () => {
        socket.off('error', fail);
        resolve();
      });
    });
    return new UdpMux(socket, options.fastPath);
  }

  private constructor(
    private readonly socket: Socket,
    fastPath: FastPath | undefined,
  ) {
    this.batch = fastPath?.batchFor(socket);
    this.fastPath = this.batch ? fastPath : undefined;
    const bound = socket.address();
    this.port = bound.port;
    this.socketType = bound.family === 'IPv6' ? 'udp6' : 'udp4';
    socket.on('message', (datagram, remote) => this.receive(datagram, remote));
    // sends carry no callback (one per packet costs), so dgram drops their
    // errors; other socket errors arrive as events and must have a listener.
    socket.on('error', () => {
      this.counters.socketErrors++;
    });
  }

  /** werift's `iceUdpTransportFactory`: one transport per host candidate, all on this socket. */
  readonly transportFactory: UdpTransportFactory = async (request) => {
    if (this.isClosed) throw new Error('UdpMux is closed');
    if (request.socketType !== this.socketType) {
      throw new Error(`UdpMux is ${this.socketType}; cannot serve a ${request.socketType} candidate`);
    }
    const transport = new MuxedUdpTransport(this, request);
    this.transports.add(transport);
    return transport;
  };

  get closed(): boolean {
    return this.isClosed;
  }

  /** The native fast path, when this socket sends through it. */
  readonly fastPath: FastPath | undefined;

  /** Open connection transports on this socket. */
  get transportCount(): number {
    return this.transports.size;
  }

  /** SO_RCVBUF as the kernel reports it (Linux reports twice the value it granted). */
  get recvBufferSize(): number {
    return this.socket.getRecvBufferSize();
  }

  stats(): UdpMuxStats {
    return { ...this.counters, sendDropped: this.batch?.stats().dropped ?? 0 };
  }

  /** Closes the socket; every transport on it is closed too (werift then sees `closed`). Idempotent. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    // Before the socket closes: its descriptor number may go to another file right after.
    this.batch?.close();
    for (const transport of this.transports) transport.parentClosed();
    this.transports.clear();
    this.byAddress.clear();
    this.byUfrag.clear();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  /** @internal Sends for one transport; the destination becomes its own if nobody owns it yet. */
  sendFor(transport: MuxedUdpTransport, datagram: Buffer, host: string, port: number): void {
    if (this.isClosed) return;
    this.check(transport, host, port);
    this.sendChecked(datagram, host, port);
  }

  /**
   * @internal The checks of `sendFor` without sending: only literal addresses
   * (the mux never resolves names: no DNS, no surprises), and the destination
   * becomes the transport's own if nobody owns it yet.
   */
  check(transport: MuxedUdpTransport, host: string, port: number): void {
    if (isIP(host) === 0) throw new Error(`UdpMux sends to IP addresses only, not "${host}"`);
    const key = addressKey(host, port);
    if (!this.byAddress.has(key)) this.own(key, transport);
  }

  /**
   * @internal Sends to an address `sendFor` already checked and assigned.
   * Through dgram on both paths: STUN, DTLS and SRTCP are few, and dgram
   * queues what a full socket buffer cannot take now, where the fast path's
   * batch drops it (a router's choice for media, not for a handshake or a
   * consent check).
   */
  sendChecked(datagram: Buffer, host: string, port: number): void {
    if (this.isClosed) return;
    this.counters.datagramsOut++;
    this.counters.bytesOut += datagram.length;
    this.socket.send(datagram, port, host);
  }

  /** @internal Queues RTP on the fast path to a checked address: see `MuxedUdpTransport.sendRtpTo`. */
  queueRtp(context: FastSrtpContext, tagLength: number, plain: Buffer, headerLength: number, length: number, roc: number, to: Destination): number {
    if (this.isClosed || !this.batch) return 0;
    const size = this.batch.queueRtp(context, tagLength, plain, headerLength, length, roc, to);
    this.counters.datagramsOut++;
    this.counters.bytesOut += size;
    return size;
  }

  /** @internal A transport closed: forget it and every address it owned. */
  detach(transport: MuxedUdpTransport): void {
    if (!this.transports.delete(transport)) return;
    for (const key of transport.ownedAddresses) {
      if (this.byAddress.get(key) === transport) this.byAddress.delete(key);
    }
    for (const [ufrag, owner] of this.byUfrag) {
      if (owner === transport) this.byUfrag.delete(ufrag);
    }
  }

  private receive(datagram: Buffer, remote: RemoteInfo): void {
    this.counters.datagramsIn++;
    this.counters.bytesIn += datagram.length;
    const host = remote.family === 'IPv6' ? withoutZone(remote.address) : remote.address;
    const key = addressKey(host, remote.port);
    const ufrag = bindingRequestUfrag(datagram);
    let transport: MuxedUdpTransport | undefined;
    if (ufrag === undefined) {
      transport = this.byAddress.get(key);
      if (!transport) {
        this.counters.droppedUnknownSource++;
        return;
      }
    } else {
      // A Binding request names its connection; it may come from a new address
      // (another candidate of the peer, a NAT rebinding, an ICE restart).
      transport = this.findByUfrag(ufrag);
      if (!transport) {
        this.counters.droppedUnknownUfrag++;
        return;
      }
      if (this.byAddress.get(key) !== transport) this.own(key, transport);
    }
    try {
      transport.deliver(datagram, [host, remote.port]);
    } catch {
      this.counters.handlerErrors++;
    }
  }

  private findByUfrag(ufrag: string): MuxedUdpTransport | undefined {
    const known = this.byUfrag.get(ufrag);
    if (known) return known;
    // First request for this ufrag (a new connection or a new ICE generation).
    for (const transport of this.transports) {
      if (transport.answersTo(ufrag)) {
        this.byUfrag.set(ufrag, transport);
        return transport;
      }
    }
    return undefined;
  }

  private own(key: string, transport: MuxedUdpTransport): void {
    const previous = this.byAddress.get(key);
    previous?.ownedAddresses.delete(key);
    this.byAddress.set(key, transport);
    transport.ownedAddresses.add(key);
  }
}

/** The transport of one host candidate of one werift connection, on the mux's socket. */
export class MuxedUdpTransport implements InjectedUdpTransport {
  readonly type = 'udp' as const;
  readonly socketType: 'udp4' | 'udp6';
  closed = false;
  /** Set by werift's StunProtocol: where received datagrams go. */
  onData: (data: Buffer, addr: Address) => void = () => undefined;
  /** @internal Remote "ip:port" keys the mux routes to this transport. */
  readonly ownedAddresses = new Set<string>();
  private lastRemote: Address | undefined;

  constructor(
    private readonly mux: UdpMux,
    private readonly request: UdpTransportRequest,
  ) {
    this.socketType = request.socketType;
  }

  /** The advertised candidate address and the shared port. */
  get address(): AddressInfo {
    return { address: this.request.address, family: this.socketType === 'udp6' ? 'IPv6' : 'IPv4', port: this.mux.port };
  }

  /** True if the connection answers to this ufrag (current or earlier ICE generation). */
  answersTo(ufrag: string): boolean {
    return !this.closed && this.request.localUsernames().includes(ufrag);
  }

  send = async (data: Buffer, addr?: Address): Promise<void> => {
    if (this.closed) return;
    const target = addr ?? this.lastRemote;
    if (!target) throw new Error('MuxedUdpTransport.send: no destination');
    this.mux.sendFor(this, data, target[0], target[1]);
  };

  /**
   * Sends now, without werift's promise chain (the forwarding path:
   * rtp-output.ts). The first datagram to an address goes through the checks
   * of `send`; later ones to the same (unchanged) address skip them.
   */
  sendTo(data: Buffer, addr: Address): void {
    if (this.closed) return;
    this.route(addr);
    this.mux.sendChecked(data, addr[0], addr[1]);
  }

  /** The mux's native fast path, when it has one: then `sendRtpTo` may be used. */
  get fastPath(): FastPath | undefined {
    return this.mux.fastPath;
  }

  /**
   * The fast path's `sendTo` for RTP: the packet in `plain[0, length)` is
   * copied, protected with `context` (by the addon) and sent with the rest of
   * this turn's datagrams. The address checks are those of `sendTo`.
   * @returns the datagram's length (RTP plus tag), 0 if the transport is closed
   */
  sendRtpTo(context: FastSrtpContext, tagLength: number, plain: Buffer, headerLength: number, length: number, roc: number, addr: Address): number {
    if (this.closed) return 0;
    const to = this.route(addr) ?? destination(addr[0], addr[1]);
    return this.mux.queueRtp(context, tagLength, plain, headerLength, length, roc, to);
  }

  /**
   * The mux's checks of `addr`, once for as long as this transport keeps
   * sending to it; on the fast path also the address parsed for the addon.
   */
  private route(addr: Address): Destination | undefined {
    if (this.isChecked(addr)) return this.checked?.to;
    this.mux.check(this, addr[0], addr[1]);
    const to = this.mux.fastPath ? destination(addr[0], addr[1]) : undefined;
    this.checked = { host: addr[0], port: addr[1], to };
    return to;
  }

  /**
   * The address the mux last checked for this transport (and, on the fast
   * path, parsed). Compared by value: werift's `pair.remoteAddr` is a new
   * array on every read.
   */
  private checked: { host: string; port: number; to: Destination | undefined } | undefined;

  private isChecked(addr: Address): boolean {
    const checked = this.checked;
    return checked !== undefined && checked.host === addr[0] && checked.port === addr[1];
  }

  close = async (): Promise<void> => {
    if (this.closed) return;
    this.closed = true;
    this.mux.detach(this);
  };

  /** @internal */
  deliver(datagram: Buffer, from: Address): void {
    if (this.closed) return;
    this.lastRemote = from;
    this.onData(datagram, from);
  }

  /** @internal The mux closed under this transport. */
  parentClosed(): void {
    this.closed = true;
  }
}

/** "fe80::1%eth0" → "fe80::1", as werift's own UDP transport reports addresses. */
function withoutZone(address: string): string {
  const percent = address.indexOf('%');
  return percent === -1 ? address : address.slice(0, percent);
}

function addressKey(host: string, port: number): string {
  return `${host}:${port}`;
}

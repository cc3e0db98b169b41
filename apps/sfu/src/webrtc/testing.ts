// Test helpers for real werift connections over loopback. Spec files only.
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import {
  MediaStreamTrack,
  RTCPeerConnection,
  RtpHeader,
  RtpPacket,
  type Address,
  type IceConnection,
  type InjectedUdpTransport,
  type UdpTransportFactory,
  type RTCPeerConnectionConfig,
  type RTCRtpTransceiver,
  type RTCSessionDescription,
} from 'werift';

export const LOOPBACK = '127.0.0.1';

/** `value`, or a failure naming what is missing (the lint rules forbid `!`). */
export function present<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Error(`expected ${what}`);
  return value;
}

/** The local description a completed setLocalDescription left. */
export function localDescription(pc: RTCPeerConnection): RTCSessionDescription {
  return present(pc.localDescription, 'a local description');
}

/** The connection's first transceiver (the answerer creates it from the offer). */
export function firstTransceiver(pc: RTCPeerConnection): RTCRtpTransceiver {
  return present(pc.getTransceivers()[0], 'a transceiver');
}

/** The werift ICE agent of a bundled connection. */
export function iceAgent(pc: RTCPeerConnection): IceConnection {
  return present(pc.iceTransports[0], 'an ICE transport').connection;
}

/**
 * A plain werift connection standing in for a client: no ICE servers and one
 * host candidate on 127.0.0.1 (werift skips loopback unless it is added, and
 * patch 002 keeps it from adding every other interface). max-bundle, because a
 * werift offerer with max-compat leaks the sockets of the transports a bundled
 * answer makes redundant (docs/werift.md).
 */
export function loopbackClientConfig(extra: RTCPeerConnectionConfig = {}): RTCPeerConnectionConfig {
  return {
    iceServers: [],
    iceUseIpv4: true,
    iceUseIpv6: false,
    iceInterfaceAddresses: { udp4: LOOPBACK },
    iceAdditionalHostAddresses: [LOOPBACK],
    bundlePolicy: 'max-bundle',
    ...extra,
  };
}

/** Keeps every connection a test opens, to close them all in afterEach. */
export class PeerRegistry {
  private readonly peers: RTCPeerConnection[] = [];

  add<T extends RTCPeerConnection>(pc: T): T {
    this.peers.push(pc);
    return pc;
  }

  client(extra?: RTCPeerConnectionConfig): RTCPeerConnection {
    return this.add(new RTCPeerConnection(loopbackClientConfig(extra)));
  }

  async closeAll(): Promise<void> {
    const peers = this.peers.splice(0);
    await Promise.all(peers.map((pc) => pc.close()));
  }
}

/**
 * One offer/answer round without trickle: werift's setLocalDescription
 * resolves after gathering, so each description carries its candidates.
 */
export async function negotiate(
  offerer: RTCPeerConnection,
  answerer: RTCPeerConnection,
  /** Runs between the answerer's setRemoteDescription and createAnswer (e.g. to start sending). */
  beforeAnswer: () => void | Promise<void> = () => undefined,
): Promise<{ offer: RTCSessionDescription; answer: RTCSessionDescription }> {
  await offerer.setLocalDescription(await offerer.createOffer());
  const offer = localDescription(offerer);
  await answerer.setRemoteDescription(offer);
  await beforeAnswer();
  await answerer.setLocalDescription(await answerer.createAnswer());
  const answer = localDescription(answerer);
  await offerer.setRemoteDescription(answer);
  return { offer, answer };
}

/** Resolves when the connection is connected (ICE + DTLS); rejects if it fails or closes. */
export async function connected(pc: RTCPeerConnection): Promise<void> {
  if (pc.connectionState === 'connected') return;
  await new Promise<void>((resolve, reject) => {
    const { unSubscribe } = pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') {
        unSubscribe();
        resolve();
      } else if (state === 'failed' || state === 'closed') {
        unSubscribe();
        reject(new Error(`connection ${state}`));
      }
    });
  });
}

/** A VP8-like RTP packet: a one-byte payload descriptor then `body`. */
export function videoPacket(sequenceNumber: number, body: Buffer): RtpPacket {
  return new RtpPacket(
    new RtpHeader({ payloadType: 96, sequenceNumber, timestamp: sequenceNumber * 3000, ssrc: 1, marker: true }),
    Buffer.concat([Buffer.from([0x10]), body]),
  );
}

/** A local video track to publish. */
export function videoTrack(): MediaStreamTrack {
  return new MediaStreamTrack({ kind: 'video' });
}

/** Resolves with the payloads of the first `count` RTP packets a remote track receives. */
export function receivePayloads(track: MediaStreamTrack, count: number): Promise<Buffer[]> {
  return new Promise((resolve) => {
    const payloads: Buffer[] = [];
    const { unSubscribe } = track.onReceiveRtp.subscribe((packet) => {
      payloads.push(Buffer.from(packet.payload));
      if (payloads.length === count) {
        unSubscribe();
        resolve(payloads);
      }
    });
  });
}

/** Calls `send` every `intervalMs` until `done` settles (media over UDP may lose the odd packet). */
export async function repeatUntil<T>(done: Promise<T>, send: () => void, intervalMs = 20): Promise<T> {
  send();
  const timer = setInterval(send, intervalMs);
  try {
    return await done;
  } finally {
    clearInterval(timer);
  }
}

/** Sends one datagram now from the socket it was meant to leave on. */
export type SendNow = (data: Buffer, addr: Address) => void;

/**
 * werift's `iceUdpTransportFactory` for a client: each host candidate gets a
 * socket of its own on loopback, and every datagram werift sends passes
 * through `onSend`, which sends it (`now`), holds it back to send later, or
 * drops it: the network conditions a test needs. Sockets go into `sockets`
 * for the test to close.
 */
export function interceptingUdpTransports(sockets: dgram.Socket[], onSend: (data: Buffer, addr: Address, now: SendNow) => void): UdpTransportFactory {
  return async (request) => {
    const socket = dgram.createSocket(request.socketType);
    sockets.push(socket);
    await new Promise<void>((resolve) => socket.bind(0, request.address, resolve));
    const now: SendNow = (data, [host, port]) => socket.send(data, port, host);
    const transport: InjectedUdpTransport = {
      type: 'udp',
      socketType: request.socketType,
      closed: false,
      address: socket.address() as AddressInfo,
      onData: () => undefined,
      send: async (data, addr) => {
        if (transport.closed || !addr) return;
        onSend(data, addr, now);
      },
      close: async () => {
        if (transport.closed) return;
        transport.closed = true;
        socket.close();
      },
    };
    socket.on('message', (data, remote) => transport.onData(data, [remote.address, remote.port]));
    return transport;
  };
}

import {
  Event,
  MediaStreamTrack,
  RTCRtpCodecParameters,
  RTCRtpReceiver,
  RtpHeader,
  RtpPacket,
  int,
  useNACK,
  usePLI,
  type RtcpPacket,
} from 'werift';

// werift patch 014 (docs/werift.md) removed per-packet work from werift's
// receive path: an async function per Event.execute, parseInt through a
// string in the receive statistics, the codec list sorted twice a packet, and
// a promise from runRtcp per packet. These pin what must not have changed.

describe('int (patch 014)', () => {
  it('truncates finite numbers as parseInt did, and small ones correctly', () => {
    expect(int(3.9)).toBe(3);
    expect(int(-2.5)).toBe(-2);
    expect(int(4_294_967_295.7)).toBe(4_294_967_295);
    expect(int(1e-7)).toBe(0); // parseInt("1e-7") was 1
    expect(int('12' as unknown as number)).toBe(12);
    expect(int('0x10' as unknown as number)).toBe(0);
    expect(Number.isNaN(int(Number.NaN))).toBe(true);
    expect(Number.isNaN(int(Number.POSITIVE_INFINITY))).toBe(true);
  });
});

describe('Event.execute (patch 014)', () => {
  it('calls plain subscribers at once and still awaits promise subscribers in order', async () => {
    const event = new Event<[number]>();
    const calls: string[] = [];
    event.subscribe((n) => calls.push(`sync ${n}`));
    event.execute(1);
    expect(calls).toEqual(['sync 1']);

    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    event.queuingSubscribe(async (n) => {
      calls.push(`first ${n}`);
      await gate;
      calls.push(`first done ${n}`);
    });
    event.queuingSubscribe(async (n) => {
      calls.push(`second ${n}`);
    });
    event.execute(2);
    expect(calls).toEqual(['sync 1', 'sync 2', 'first 2']);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual(['sync 1', 'sync 2', 'first 2', 'first done 2', 'second 2']);
  });

  it('hands a failing promise subscriber to onerror', async () => {
    const event = new Event<[number]>();
    const errors: unknown[] = [];
    event.onerror = (e) => errors.push(e);
    event.queuingSubscribe(async () => {
      throw new Error('boom');
    });
    event.execute(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toHaveLength(1);
  });
});

describe('RTCRtpReceiver.handleRTP (patch 014)', () => {
  const SSRC = 0x1234;
  const vp8 = (feedback: 'nack' | 'none') =>
    new RTCRtpCodecParameters({
      mimeType: 'video/VP8',
      clockRate: 90000,
      payloadType: 96,
      // werift counts any feedback of type "nack" (PLI is nack/pli) as NACK: none at all here.
      rtcpFeedback: feedback === 'nack' ? [useNACK(), usePLI()] : [],
    });
  const packet = (sequenceNumber: number) =>
    new RtpPacket(new RtpHeader({ payloadType: 96, sequenceNumber, timestamp: sequenceNumber * 3000, ssrc: SSRC }), Buffer.from([0x10, 1, 2, 3]));

  /** What the receiver keeps private: its statistics per SSRC and its NACK handler. */
  type ReceiverInternals = {
    remoteStreams: Record<number, { packets_received: number; packets_lost: number } | undefined>;
    nack: { lostSeqNumbers: number[] };
    rtcpRunning: boolean;
  };
  const internals = (receiver: RTCRtpReceiver) => receiver as unknown as ReceiverInternals;

  function receiverWith(codec: RTCRtpCodecParameters, config: { receiverReportLoop?: boolean } = {}) {
    const receiver = new RTCRtpReceiver(config as never, 'video', 0x9999);
    const sent: RtcpPacket[] = [];
    receiver.setDtlsTransport({ sendRtcp: async (packets: RtcpPacket[]) => void sent.push(...packets) } as never);
    receiver.prepareReceive({ codecs: [codec], encodings: [], headerExtensions: [] } as never);
    const track = new MediaStreamTrack({ kind: 'video', ssrc: SSRC, remote: true });
    receiver.addTrack(track);
    const received: RtpPacket[] = [];
    track.onReceiveRtp.subscribe((p) => received.push(p));
    return { receiver, received, sent };
  }

  it('delivers a copy of each packet, counts it, and notes losses for NACK when negotiated', () => {
    const { receiver, received } = receiverWith(vp8('nack'));
    try {
      for (const seq of [10, 11, 14]) receiver.handleRtpBySsrc(packet(seq), {});
      expect(received.map((p) => p.header.sequenceNumber)).toEqual([10, 11, 14]);
      expect(received[0]?.payload).toEqual(Buffer.from([0x10, 1, 2, 3]));
      const stats = internals(receiver).remoteStreams[SSRC];
      expect(stats?.packets_received).toBe(3);
      expect(stats?.packets_lost).toBe(2);
      expect(internals(receiver).nack.lostSeqNumbers).toEqual([12, 13]);
    } finally {
      receiver.stop();
    }
  });

  it('gives its reception report blocks, the highest sequence number extended across a wrap (patch 017)', () => {
    const { receiver } = receiverWith(vp8('none'));
    try {
      for (const seq of [65533, 65534, 65535, 0, 2]) receiver.handleRtpBySsrc(packet(seq), {});
      const [block, ...others] = receiver.receptionReports();
      expect(others).toEqual([]);
      expect(block).toMatchObject({ ssrc: SSRC, highestSequence: 65536 + 2, packetsLost: 1 });
      // One of six expected since the start: 256 / 6, rounded down.
      expect(block?.fractionLost).toBe(42);
      receiver.handleRtpBySsrc(packet(3), {});
      // The fraction counts since the last call: none lost since.
      expect(receiver.receptionReports()[0]).toMatchObject({ highestSequence: 65536 + 3, packetsLost: 1, fractionLost: 0 });
    } finally {
      receiver.stop();
    }
  });

  it('starts no report loop of its own when its connection leaves reports to the application (receiverReportLoop: false, patch 017)', () => {
    const own = receiverWith(vp8('none'), { receiverReportLoop: false });
    const werifts = receiverWith(vp8('none'));
    try {
      own.receiver.handleRtpBySsrc(packet(1), {});
      werifts.receiver.handleRtpBySsrc(packet(1), {});
      expect(internals(own.receiver).rtcpRunning).toBe(false);
      expect(internals(werifts.receiver).rtcpRunning).toBe(true);
    } finally {
      own.receiver.stop();
      werifts.receiver.stop();
    }
  });

  it('follows a renegotiation that drops NACK (the derived features are recomputed)', () => {
    const { receiver } = receiverWith(vp8('nack'));
    try {
      receiver.handleRtpBySsrc(packet(1), {});
      receiver.prepareReceive({ codecs: [vp8('none')], encodings: [], headerExtensions: [] } as never);
      receiver.handleRtpBySsrc(packet(5), {});
      expect(internals(receiver).nack.lostSeqNumbers).toEqual([]);
    } finally {
      receiver.stop();
    }
  });
});

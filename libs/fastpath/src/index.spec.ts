import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { UNPROTECT_FORGED, UNPROTECT_NOT_RTP, UNPROTECT_NOT_SRTCP, destination, loadFastPath, socketFd, type FastPath, type FastSrtpKeys } from './index';

// The addon is built by `npm install` (scripts/build.cjs); these tests need it,
// so a machine where it did not build fails here, saying why.
function fastPath(): FastPath {
  const load = loadFastPath();
  if (!load.fastPath) throw new Error(load.error);
  return load.fastPath;
}

/** Reference SRTP protection with Node's crypto, a cipher per packet (RFC 7714 §8.1, RFC 3711 §4). */
function referenceProtect(keys: FastSrtpKeys, packet: Buffer, headerLength: number, roc: number): Buffer {
  const header = packet.subarray(0, headerLength);
  const payload = packet.subarray(headerLength);
  const ssrc = packet.readUInt32BE(8);
  const seq = packet.readUInt16BE(2);
  if (keys.profile === 0x0007) {
    const iv = Buffer.alloc(12);
    iv.writeUInt32BE(ssrc, 2);
    iv.writeUInt32BE(roc, 6);
    iv.writeUInt16BE(seq, 10);
    for (let i = 0; i < 12; i++) iv[i] = (iv[i] as number) ^ (keys.salt[i] as number);
    const cipher = createCipheriv('aes-128-gcm', keys.key, iv);
    cipher.setAAD(header);
    const body = Buffer.concat([cipher.update(payload), cipher.final()]);
    return Buffer.concat([header, body, cipher.getAuthTag()]);
  }
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(ssrc, 4);
  iv.writeUInt32BE(roc, 8);
  iv.writeUInt16BE(seq, 12);
  for (let i = 0; i < 14; i++) iv[i] = (iv[i] as number) ^ (keys.salt[i] as number);
  const cipher = createCipheriv('aes-128-ctr', keys.key, iv);
  const encrypted = Buffer.concat([header, cipher.update(payload), cipher.final()]);
  const rocBytes = Buffer.alloc(4);
  rocBytes.writeUInt32BE(roc);
  const tag = createHmac('sha1', keys.authKey).update(encrypted).update(rocBytes).digest().subarray(0, 10);
  return Buffer.concat([encrypted, tag]);
}

/**
 * Reference SRTCP protection with Node's crypto (RFC 7714 §9 for GCM, RFC
 * 3711 §3.4 and §4.1.1 for AES-CM), encrypted (E = 1) with `index`.
 */
function referenceProtectRtcp(keys: FastSrtpKeys, packet: Buffer, index: number): Buffer {
  const header = packet.subarray(0, 8);
  const body = packet.subarray(8);
  const ssrc = packet.readUInt32BE(4);
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE((0x8000_0000 | index) >>> 0);
  if (keys.profile === 0x0007) {
    const iv = Buffer.alloc(12);
    iv.writeUInt32BE(ssrc, 2);
    iv.writeUInt32BE(index, 8);
    for (let i = 0; i < 12; i++) iv[i] = (iv[i] as number) ^ (keys.salt[i] as number);
    const cipher = createCipheriv('aes-128-gcm', keys.key, iv);
    cipher.setAAD(Buffer.concat([header, tail]));
    const encrypted = Buffer.concat([cipher.update(body), cipher.final()]);
    return Buffer.concat([header, encrypted, cipher.getAuthTag(), tail]);
  }
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(ssrc, 4);
  iv.writeUInt32BE(index, 10);
  for (let i = 0; i < 14; i++) iv[i] = (iv[i] as number) ^ (keys.salt[i] as number);
  const cipher = createCipheriv('aes-128-ctr', keys.key, iv);
  const authenticated = Buffer.concat([header, cipher.update(body), cipher.final(), tail]);
  return Buffer.concat([authenticated, createHmac('sha1', keys.authKey).update(authenticated).digest().subarray(0, 10)]);
}

/** An RTCP compound packet of `length` bytes (a multiple of 4) from sender `ssrc`: one receiver report, random inside. */
function rtcpPacket(ssrc: number, length: number): Buffer {
  const packet = randomBytes(length);
  packet[0] = 0x81;
  packet[1] = 201;
  packet.writeUInt16BE(length / 4 - 1, 2);
  packet.writeUInt32BE(ssrc, 4);
  return packet;
}

function keysOf(profile: number): FastSrtpKeys {
  return { profile, key: randomBytes(16), salt: randomBytes(profile === 0x0007 ? 12 : 14), authKey: randomBytes(20) };
}

function rtpPacket(seq: number, ssrc: number, headerLength: number, payloadLength: number): Buffer {
  const packet = randomBytes(headerLength + payloadLength);
  packet[0] = headerLength > 12 ? 0x90 : 0x80;
  packet.writeUInt16BE(seq, 2);
  packet.writeUInt32BE(ssrc, 8);
  return packet;
}

async function boundSocket(type: 'udp4' | 'udp6', host: string): Promise<Socket> {
  const socket = createSocket(type);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => resolve());
  });
  return socket;
}

function collect(socket: Socket, count: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve) => {
    socket.on('message', (datagram) => {
      got.push(datagram);
      if (got.length === count) resolve(got);
    });
  });
}

describe('SRTP protection', () => {
  it.each([
    ['AEAD_AES_128_GCM', 0x0007],
    ['AES128_CM_HMAC_SHA1_80', 0x0001],
  ])('%s is byte-identical to a cipher per packet, for many packets on one context', (_name, profile) => {
    const fp = fastPath();
    const keys = keysOf(profile);
    const context = fp.srtpContext(keys);
    for (let i = 0; i < 200; i++) {
      const headerLength = i % 3 === 0 ? 12 : 24;
      const plain = rtpPacket((65_500 + i * 7) & 0xffff, 0x1234_5678 + (i % 2), headerLength, i % 50 === 0 ? 0 : 1 + ((i * 37) % 1400));
      const roc = i % 5;
      const expected = referenceProtect(keys, plain, headerLength, roc);
      const buffer = Buffer.alloc(plain.length + 64);
      plain.copy(buffer, 32);
      const length = fp.protect(context, buffer, 32, headerLength, plain.length, roc);
      expect(length).toBe(plain.length + fp.tagLength(profile));
      expect(buffer.subarray(32, 32 + length).equals(expected)).toBe(true);
    }
  });

  it.each([
    ['AEAD_AES_128_GCM', 0x0007],
    ['AES128_CM_HMAC_SHA1_80', 0x0001],
  ])('%s unprotects what was protected, refuses tampered packets and reads CSRCs and extensions', (_name, profile) => {
    const fp = fastPath();
    const keys = keysOf(profile);
    const context = fp.srtpContext(keys, 'unprotect');
    for (let i = 0; i < 100; i++) {
      // Header: 12 bytes, 2 CSRCs, and an extension of 2 words on every other packet.
      const csrcs = i % 3;
      const extension = i % 2 === 1;
      const headerLength = 12 + 4 * csrcs + (extension ? 12 : 0);
      const plain = rtpPacket((i * 1000) & 0xffff, 0xfeed_0000 + i, headerLength, (i * 53) % 1300);
      plain[0] = 0x80 | (extension ? 0x10 : 0) | csrcs;
      if (extension) plain.writeUInt16BE(2, 12 + 4 * csrcs + 2);
      const roc = i % 4;
      const datagram = referenceProtect(keys, plain, headerLength, roc);
      const received = Buffer.from(datagram);
      expect(fp.unprotect(context, received, roc)).toBe(plain.length);
      expect(received.subarray(0, plain.length).equals(plain)).toBe(true);
      const tampered = Buffer.from(datagram);
      tampered[tampered.length - 20] = (tampered[tampered.length - 20] as number) ^ 1;
      expect(fp.unprotect(context, tampered, roc)).toBe(UNPROTECT_FORGED);
      expect(fp.unprotect(context, Buffer.from(datagram), roc + 1)).toBe(UNPROTECT_FORGED);
    }
    expect(fp.unprotect(context, Buffer.alloc(20), 0)).toBe(UNPROTECT_NOT_RTP);
    const badExtension = rtpPacket(1, 1, 16, 40);
    badExtension[0] = 0x90;
    badExtension.writeUInt16BE(500, 14); // an extension longer than the packet
    expect(fp.unprotect(context, badExtension, 0)).toBe(UNPROTECT_NOT_RTP);
    // A context keeps to its use.
    expect(() => fp.protect(context, Buffer.alloc(100), 0, 12, 20, 0)).toThrow(expect.objectContaining({ code: 'ERR_FASTPATH_ARGUMENT' }));
    expect(() => fp.unprotect(fp.srtpContext(keys), Buffer.alloc(100), 0)).toThrow(expect.objectContaining({ code: 'ERR_FASTPATH_ARGUMENT' }));
  });

  it('refuses bad keys and out-of-bounds packets with coded errors', () => {
    const fp = fastPath();
    expect(() => fp.srtpContext({ ...keysOf(0x0007), key: randomBytes(15) })).toThrow(expect.objectContaining({ code: 'ERR_FASTPATH_KEY' }));
    expect(() => fp.srtpContext({ ...keysOf(0x0001), authKey: randomBytes(10) })).toThrow(expect.objectContaining({ code: 'ERR_FASTPATH_KEY' }));
    expect(() => fp.srtpContext(keysOf(0x0002))).toThrow(expect.objectContaining({ code: 'ERR_FASTPATH_PROFILE' }));
    const context = fp.srtpContext(keysOf(0x0007));
    const buffer = Buffer.alloc(100);
    // No room for the 16-byte tag after 90 bytes at offset 0 of 100.
    expect(() => fp.protect(context, buffer, 0, 12, 90, 0)).toThrow(expect.objectContaining({ code: 'ERR_FASTPATH_BOUNDS' }));
    expect(() => fp.protect(context, buffer, 0, 8, 20, 0)).toThrow(expect.objectContaining({ code: 'ERR_FASTPATH_BOUNDS' }));
    expect(() => fp.protect({} as never, buffer, 0, 12, 20, 0)).toThrow(expect.objectContaining({ code: 'ERR_FASTPATH_ARGUMENT' }));
    expect(() => fp.protect(context, buffer, -1, 12, 20, 0)).toThrow(expect.objectContaining({ code: 'ERR_FASTPATH_ARGUMENT' }));
  });
});

describe('SRTCP protection', () => {
  it.each([
    ['AEAD_AES_128_GCM', 0x0007],
    ['AES128_CM_HMAC_SHA1_80', 0x0001],
  ])('%s is byte-identical to a cipher per packet and unprotects back, for many packets on one context', (_name, profile) => {
    const fp = fastPath();
    const keys = keysOf(profile);
    const protect = fp.srtpContext(keys);
    const unprotect = fp.srtpContext(keys, 'unprotect');
    const overhead = fp.srtcpOverhead(profile);
    expect(overhead).toBe(profile === 0x0007 ? 20 : 14);
    for (let i = 0; i < 100; i++) {
      // 8 bytes (a header only) up to a compound of many reports; indices up to 2^31 − 1.
      const plain = rtcpPacket(0xabcd_0000 + (i % 3), 8 + 4 * ((i * 13) % 120));
      const index = i === 99 ? 0x7fff_ffff : i * 977;
      const expected = referenceProtectRtcp(keys, plain, index);
      const buffer = Buffer.alloc(plain.length + overhead + 9);
      plain.copy(buffer);
      const length = fp.protectRtcp(protect, buffer, plain.length, index);
      expect(length).toBe(plain.length + overhead);
      expect(buffer.subarray(0, length).equals(expected)).toBe(true);
      const received = Buffer.from(expected);
      expect(fp.unprotectRtcp(unprotect, received)).toBe(plain.length);
      expect(received.subarray(0, plain.length).equals(plain)).toBe(true);
    }
  });

  it.each([
    ['AEAD_AES_128_GCM', 0x0007],
    ['AES128_CM_HMAC_SHA1_80', 0x0001],
  ])('%s refuses tampered, foreign and malformed packets, and reads unencrypted ones', (_name, profile) => {
    const fp = fastPath();
    const keys = keysOf(profile);
    const unprotect = fp.srtpContext(keys, 'unprotect');
    const plain = rtcpPacket(0x1234, 52);
    const datagram = referenceProtectRtcp(keys, plain, 41);
    for (const at of [1, 6, 20, datagram.length - 15, datagram.length - 1]) {
      // A flipped bit anywhere: header, body, tag, or the index word.
      const tampered = Buffer.from(datagram);
      tampered[at] = (tampered[at] as number) ^ 0x10;
      expect(fp.unprotectRtcp(unprotect, tampered)).toBe(UNPROTECT_FORGED);
    }
    expect(fp.unprotectRtcp(fp.srtpContext(keysOf(profile), 'unprotect'), Buffer.from(datagram))).toBe(UNPROTECT_FORGED);
    expect(fp.unprotectRtcp(unprotect, datagram.subarray(0, 8 + fp.srtcpOverhead(profile) - 1))).toBe(UNPROTECT_NOT_SRTCP);
    const version1 = Buffer.from(datagram);
    version1[0] = 0x41;
    expect(fp.unprotectRtcp(unprotect, version1)).toBe(UNPROTECT_NOT_SRTCP);
    // E = 0 (RFC 3711 §3.4): authenticated, not encrypted.
    const tail = Buffer.from([0, 0, 0, 7]);
    let clear: Buffer;
    if (profile === 0x0007) {
      const iv = Buffer.alloc(12);
      iv.writeUInt32BE(0x1234, 2);
      iv.writeUInt32BE(7, 8);
      for (let i = 0; i < 12; i++) iv[i] = (iv[i] as number) ^ (keys.salt[i] as number);
      const cipher = createCipheriv('aes-128-gcm', keys.key, iv);
      cipher.setAAD(Buffer.concat([plain, tail]));
      cipher.final();
      clear = Buffer.concat([plain, cipher.getAuthTag(), tail]);
    } else {
      const authenticated = Buffer.concat([plain, tail]);
      clear = Buffer.concat([authenticated, createHmac('sha1', keys.authKey).update(authenticated).digest().subarray(0, 10)]);
    }
    expect(fp.unprotectRtcp(unprotect, clear)).toBe(plain.length);
    expect(clear.subarray(0, plain.length).equals(plain)).toBe(true);
  });

  it('refuses bad arguments with coded errors', () => {
    const fp = fastPath();
    const keys = keysOf(0x0007);
    const protect = fp.srtpContext(keys);
    const unprotect = fp.srtpContext(keys, 'unprotect');
    const buffer = Buffer.alloc(100);
    buffer[0] = 0x80;
    const code = (c: string) => expect.objectContaining({ code: c });
    // No room for index and tag (20 bytes) after 81 bytes; shorter than a header; not version 2.
    expect(() => fp.protectRtcp(protect, buffer, 81, 0)).toThrow(code('ERR_FASTPATH_BOUNDS'));
    expect(() => fp.protectRtcp(protect, buffer, 7, 0)).toThrow(code('ERR_FASTPATH_BOUNDS'));
    expect(() => fp.protectRtcp(protect, Buffer.alloc(100), 40, 0)).toThrow(code('ERR_FASTPATH_BOUNDS'));
    expect(fp.protectRtcp(protect, buffer, 80, 0)).toBe(100);
    expect(() => fp.protectRtcp(protect, buffer, 40, 0x8000_0000)).toThrow(code('ERR_FASTPATH_ARGUMENT'));
    expect(() => fp.protectRtcp(protect, buffer, 40, -1)).toThrow(code('ERR_FASTPATH_ARGUMENT'));
    // A context keeps to its use.
    expect(() => fp.protectRtcp(unprotect, buffer, 40, 0)).toThrow(code('ERR_FASTPATH_ARGUMENT'));
    expect(() => fp.unprotectRtcp(protect, buffer)).toThrow(code('ERR_FASTPATH_ARGUMENT'));
    expect(() => fp.unprotectRtcp(unprotect, 'x' as never)).toThrow(code('ERR_FASTPATH_ARGUMENT'));
  });
});

describe('destination', () => {
  it('parses IPv4 and IPv6 literals, and refuses names, zones and bad ports', () => {
    expect(destination('127.0.0.1', 5000)).toEqual({ family: 4, port: 5000, words: [0x7f00_0001, 0, 0, 0] });
    expect(destination('::1', 1)).toEqual({ family: 6, port: 1, words: [0, 0, 0, 1] });
    expect(destination('2001:db8::8:800:200c:417a', 9).words).toEqual([0x2001_0db8, 0, 0x0008_0800, 0x200c_417a]);
    expect(destination('::ffff:10.1.2.3', 9).words).toEqual([0, 0, 0xffff, 0x0a01_0203]);
    expect(destination('fe80::1', 9).words).toEqual([0xfe80_0000, 0, 0, 1]);
    expect(() => destination('localhost', 9)).toThrow(RangeError);
    expect(() => destination('fe80::1%eth0', 9)).toThrow(RangeError);
    expect(() => destination('127.0.0.1', 0)).toThrow(RangeError);
    expect(() => destination('127.0.0.1', 70_000)).toThrow(RangeError);
  });
});

describe('DatagramBatch', () => {
  const sockets: Socket[] = [];
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });
  async function socket(type: 'udp4' | 'udp6' = 'udp4', host = '127.0.0.1'): Promise<Socket> {
    const s = await boundSocket(type, host);
    sockets.push(s);
    return s;
  }

  it('sends what one turn queued in one flush, protected, byte for byte, to each destination', async () => {
    const fp = fastPath();
    const sender = await socket();
    const receivers = [await socket(), await socket()];
    const batch = fp.batchFor(sender);
    if (!batch) throw new Error('no descriptor for a bound socket');
    const keys = keysOf(0x0007);
    const context = fp.srtpContext(keys);
    const got = receivers.map((r) => collect(r, 30));
    const expected: Buffer[][] = [[], []];
    const scratch = Buffer.alloc(1600);
    for (let i = 0; i < 60; i++) {
      const r = i % 2;
      const plain = rtpPacket(i, 0xabc0 + r, 12, 100 + i * 10);
      plain.copy(scratch);
      const to = destination('127.0.0.1', (receivers[r] as Socket).address().port);
      if (i % 10 === 9) {
        // An already-protected datagram (e.g. RTCP) rides along unchanged.
        batch.queue(plain, to);
        expected[r]?.push(plain);
      } else {
        const length = batch.queueRtp(context, 16, scratch, 12, plain.length, 0, to);
        expect(length).toBe(plain.length + 16);
        expected[r]?.push(referenceProtect(keys, plain, 12, 0));
      }
      scratch.fill(0); // the batch copied the packet: the caller's buffer is free again
    }
    expect(batch.stats().flushes).toBe(0); // nothing sent before the turn ends
    const received = await Promise.all(got);
    expect(batch.stats()).toEqual({ sent: 60, dropped: 0, flushes: 1 });
    received.forEach((datagrams, r) => {
      expect(datagrams.map((d) => d.toString('hex'))).toEqual(expected[r]?.map((d) => d.toString('hex')));
    });
  });

  it('sends early when full, and to IPv6', async () => {
    const fp = fastPath();
    const sender = await socket('udp6', '::1');
    const receiver = await socket('udp6', '::1');
    const batch = fp.batchFor(sender, { maxDatagrams: 8, arenaBytes: 4096 });
    if (!batch) throw new Error('no descriptor for a bound socket');
    const to = destination('::1', receiver.address().port);
    const got = collect(receiver, 40);
    const sent = Array.from({ length: 40 }, (_, i) => randomBytes(200 + i));
    for (const datagram of sent) batch.queue(datagram, to);
    expect(batch.stats().flushes).toBeGreaterThanOrEqual(4);
    const received = await got;
    expect(received.map((d) => d.toString('hex')).sort()).toEqual(sent.map((d) => d.toString('hex')).sort());
    expect(batch.stats().sent).toBe(40);
  });

  it('sends what is queued on close, then drops and counts; a datagram larger than the arena is dropped', async () => {
    const fp = fastPath();
    const sender = await socket();
    const receiver = await socket();
    const batch = fp.batchFor(sender, { arenaBytes: 2048 });
    if (!batch) throw new Error('no descriptor for a bound socket');
    const to = destination('127.0.0.1', receiver.address().port);
    const got = collect(receiver, 1);
    batch.queue(Buffer.from('last words'), to);
    batch.queue(Buffer.alloc(4096), to);
    batch.close();
    expect((await got)[0]?.toString()).toBe('last words');
    batch.queue(Buffer.from('too late'), to);
    batch.flush();
    expect(batch.stats()).toEqual({ sent: 1, dropped: 2, flushes: 1 });
  });

  it('finds the descriptor of a bound socket and none of a closed one', async () => {
    const s = await boundSocket('udp4', '127.0.0.1');
    expect(socketFd(s)).toEqual(expect.any(Number));
    await new Promise<void>((resolve) => s.close(() => resolve()));
    expect(socketFd(s)).toBeUndefined();
  });
});

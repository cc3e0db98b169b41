import {
  createRtpHeader,
  findHeaderExtension,
  getHeaderExtension,
  headerExtensionLength,
  isOneByteExtension,
  isTwoByteExtension,
  readRtpHeader,
  readRtpSequenceNumber,
  readRtpSsrc,
  readRtpTimestamp,
  writeRtpMarker,
  writeRtpPayloadType,
  writeRtpSequenceNumber,
  writeRtpSsrc,
  writeRtpTimestamp,
} from './rtp';
import { OutOfBoundsRead, buildRtp, guarded, prng } from './testing';

describe('readRtpHeader', () => {
  it('reads every fixed field', () => {
    const pkt = buildRtp({
      payloadType: 111,
      sequenceNumber: 0xfffe,
      timestamp: 0xfedcba98,
      ssrc: 0xdeadbeef,
      marker: true,
      payload: [1, 2, 3],
    });
    const h = readRtpHeader(pkt);
    expect(h).toMatchObject({
      version: 2,
      padding: false,
      extension: false,
      csrcCount: 0,
      marker: true,
      payloadType: 111,
      sequenceNumber: 0xfffe,
      timestamp: 0xfedcba98,
      ssrc: 0xdeadbeef,
      headerLength: 12,
      extensionProfile: -1,
      extensionOffset: -1,
      extensionLength: 0,
      payloadOffset: 12,
      payloadLength: 3,
      paddingLength: 0,
      packetLength: 15,
    });
  });

  it('counts CSRCs and the extension block in the header length', () => {
    const pkt = buildRtp({
      csrcs: [1, 2],
      extensions: [{ id: 1, data: [9] }],
      payload: [7, 7, 7, 7, 7],
    });
    const h = readRtpHeader(pkt);
    // 12 fixed + 8 CSRC + 4 extension header + 4 (one element of 2 bytes, padded)
    expect(h?.csrcCount).toBe(2);
    expect(h?.extensionOffset).toBe(24);
    expect(h?.extensionLength).toBe(4);
    expect(h?.headerLength).toBe(28);
    expect(h?.payloadOffset).toBe(28);
    expect(h?.payloadLength).toBe(5);
    expect(pkt[h?.payloadOffset ?? 0]).toBe(7);
  });

  it('removes padding from the payload length', () => {
    const pkt = buildRtp({ payload: [1, 2, 3, 4], padding: 4 });
    const h = readRtpHeader(pkt);
    expect(h?.padding).toBe(true);
    expect(h?.paddingLength).toBe(4);
    expect(h?.payloadLength).toBe(4);
  });

  it('accepts a padding-only packet (payload length 0)', () => {
    const pkt = buildRtp({ payload: [], padding: 200 });
    expect(readRtpHeader(pkt)?.payloadLength).toBe(0);
  });

  it('fills and returns the object it is given', () => {
    const into = createRtpHeader();
    const h = readRtpHeader(buildRtp({ sequenceNumber: 5 }), into);
    expect(h).toBe(into);
    expect(readRtpHeader(buildRtp({ sequenceNumber: 6 }), into)?.sequenceNumber).toBe(6);
  });

  it('parses only the first `length` bytes when told', () => {
    const pkt = buildRtp({ payload: [1, 2, 3, 4] });
    const pool = Buffer.alloc(1500, 0xff);
    pkt.copy(pool);
    expect(readRtpHeader(pool, undefined, pkt.length)?.payloadLength).toBe(4);
    expect(readRtpHeader(pool, undefined, 11)).toBeUndefined();
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['11 bytes', buildRtp().subarray(0, 11)],
    ['version 1', Buffer.from([0x40, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1])],
    ['version 0 (a STUN-looking first byte)', Buffer.from([0x00, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0])],
    ['CSRCs past the end', Buffer.from([0x83, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1])],
    ['extension header past the end', Buffer.from([0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde])],
    ['extension length past the end', Buffer.from([0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 2, 0x10, 1, 0, 0])],
    ['padding count 0', Buffer.from([0xa0, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 5, 0])],
    ['padding past the header', Buffer.from([0xa0, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 5, 3])],
    ['padding bit with no byte after the header', Buffer.from([0xa0, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1])],
  ])('rejects %s', (_what, bytes) => {
    expect(readRtpHeader(bytes)).toBeUndefined();
  });

  it('accepts a header with nothing after it', () => {
    expect(readRtpHeader(Buffer.from([0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]))?.payloadLength).toBe(0);
  });
});

describe('header extensions', () => {
  const oneByte = buildRtp({
    extensions: [
      { id: 1, data: [0x85] },
      { id: 3, data: [0x10, 0x20, 0x30] },
      { id: 14, data: Array.from({ length: 16 }, (_, i) => i) },
    ],
  });

  it('finds one-byte elements by id and says their length', () => {
    const h = readRtpHeader(oneByte);
    if (!h) throw new Error('did not parse');
    expect(isOneByteExtension(h)).toBe(true);
    const a = findHeaderExtension(oneByte, h, 1);
    expect(oneByte[a]).toBe(0x85);
    expect(headerExtensionLength(oneByte, h, a)).toBe(1);
    const b = findHeaderExtension(oneByte, h, 3);
    expect([...oneByte.subarray(b, b + headerExtensionLength(oneByte, h, b))]).toEqual([0x10, 0x20, 0x30]);
    const c = findHeaderExtension(oneByte, h, 14);
    expect(headerExtensionLength(oneByte, h, c)).toBe(16);
    expect(findHeaderExtension(oneByte, h, 2)).toBe(-1);
  });

  it('refuses ids outside 1..14 in the one-byte form', () => {
    const h = readRtpHeader(oneByte);
    if (!h) throw new Error('did not parse');
    expect(findHeaderExtension(oneByte, h, 0)).toBe(-1);
    expect(findHeaderExtension(oneByte, h, 15)).toBe(-1);
  });

  it('skips padding bytes between one-byte elements', () => {
    // 0xBEDE, 2 words: [id1 len1 0xAA] [0] [0] [id2 len1 0xBB] [0] [0]
    const pkt = Buffer.from([0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 2, 0x10, 0xaa, 0, 0, 0x20, 0xbb, 0, 0]);
    const h = readRtpHeader(pkt);
    if (!h) throw new Error('did not parse');
    expect(pkt[findHeaderExtension(pkt, h, 2)]).toBe(0xbb);
  });

  it('stops at the reserved id 15', () => {
    const pkt = Buffer.from([0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 1, 0xf0, 0, 0x20, 0xbb]);
    const h = readRtpHeader(pkt);
    if (!h) throw new Error('did not parse');
    expect(findHeaderExtension(pkt, h, 2)).toBe(-1);
  });

  it('stops at an element whose length runs past the block', () => {
    const pkt = Buffer.from([0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 1, 0x1f, 0, 0, 0, 0xaa]);
    const h = readRtpHeader(pkt);
    if (!h) throw new Error('did not parse');
    expect(findHeaderExtension(pkt, h, 1)).toBe(-1);
  });

  it('finds two-byte elements, zero-length ones and ids above 14', () => {
    const pkt = buildRtp({
      extensionForm: 'two-byte',
      extensions: [
        { id: 200, data: [] },
        { id: 1, data: Array.from({ length: 20 }, (_, i) => i + 100) },
        { id: 15, data: [7] },
      ],
    });
    const h = readRtpHeader(pkt);
    if (!h) throw new Error('did not parse');
    expect(isTwoByteExtension(h)).toBe(true);
    expect(headerExtensionLength(pkt, h, findHeaderExtension(pkt, h, 200))).toBe(0);
    expect(getHeaderExtension(pkt, h, 1)?.[19]).toBe(119);
    expect([...(getHeaderExtension(pkt, h, 15) ?? [])]).toEqual([7]);
    expect(findHeaderExtension(pkt, h, 2)).toBe(-1);
    expect(findHeaderExtension(pkt, h, 256)).toBe(-1);
  });

  it('accepts the two-byte form with app bits (profile 0x100F)', () => {
    const pkt = Buffer.from([0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x10, 0x0f, 0, 1, 5, 1, 0x42, 0]);
    const h = readRtpHeader(pkt);
    if (!h) throw new Error('did not parse');
    expect(isTwoByteExtension(h)).toBe(true);
    expect(pkt[findHeaderExtension(pkt, h, 5)]).toBe(0x42);
  });

  it('answers -1 for other profiles and for packets without extensions', () => {
    const other = Buffer.from([0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x12, 0x34, 0, 1, 0x10, 0xaa, 0, 0]);
    const h = readRtpHeader(other);
    if (!h) throw new Error('did not parse');
    expect(h.extensionProfile).toBe(0x1234);
    expect(findHeaderExtension(other, h, 1)).toBe(-1);
    const plain = buildRtp();
    const hp = readRtpHeader(plain);
    if (!hp) throw new Error('did not parse');
    expect(findHeaderExtension(plain, hp, 1)).toBe(-1);
    expect(getHeaderExtension(plain, hp, 1)).toBeUndefined();
  });
});

describe('field readers and writers', () => {
  it('rewrite sequence number, timestamp and SSRC in place and nothing else', () => {
    const pkt = buildRtp({ sequenceNumber: 1, timestamp: 2, ssrc: 3, marker: true, payloadType: 100, payload: [9, 8, 7] });
    const before = Buffer.from(pkt);
    writeRtpSequenceNumber(pkt, 0xabcd);
    writeRtpTimestamp(pkt, 0x89abcdef);
    writeRtpSsrc(pkt, 0xfeedface);
    expect(readRtpSequenceNumber(pkt)).toBe(0xabcd);
    expect(readRtpTimestamp(pkt)).toBe(0x89abcdef);
    expect(readRtpSsrc(pkt)).toBe(0xfeedface);
    expect(pkt.subarray(0, 2)).toEqual(before.subarray(0, 2));
    expect(pkt.subarray(12)).toEqual(before.subarray(12));
  });

  it('writes values modulo their width', () => {
    const pkt = buildRtp();
    writeRtpSequenceNumber(pkt, 65536 + 7);
    writeRtpTimestamp(pkt, 2 ** 32 + 9);
    expect(readRtpSequenceNumber(pkt)).toBe(7);
    expect(readRtpTimestamp(pkt)).toBe(9);
  });

  it('payload type and marker are written without disturbing each other', () => {
    const pkt = buildRtp({ marker: true, payloadType: 96 });
    writeRtpPayloadType(pkt, 111);
    expect(readRtpHeader(pkt)).toMatchObject({ marker: true, payloadType: 111 });
    writeRtpMarker(pkt, false);
    expect(readRtpHeader(pkt)).toMatchObject({ marker: false, payloadType: 111 });
    writeRtpMarker(pkt, true);
    expect(readRtpHeader(pkt)).toMatchObject({ marker: true, payloadType: 111 });
  });
});

describe('robustness against garbage', () => {
  it('the guarded view used below does catch a read past the end', () => {
    const view = guarded(Uint8Array.from([1, 2]));
    expect(view[1]).toBe(2);
    expect(view.length).toBe(2);
    expect(() => view[2]).toThrow(OutOfBoundsRead);
    expect(() => view[-1]).toThrow(OutOfBoundsRead);
  });

  function mutate(bytes: Uint8Array, r: ReturnType<typeof prng>): Uint8Array {
    const out = Uint8Array.from(bytes.subarray(0, r.int(bytes.length + 1)));
    for (let i = r.int(4); i > 0 && out.length > 0; i--) out[r.int(out.length)] = r.int(256);
    return out;
  }

  it('never throws and never reads past the end, on random and mutated packets', () => {
    const r = prng(0x5eed);
    const valid = [
      buildRtp({ extensions: [{ id: 1, data: [1] }, { id: 2, data: [1, 2, 3, 4, 5] }], payload: [1, 2, 3], padding: 3 }),
      buildRtp({ extensionForm: 'two-byte', extensions: [{ id: 9, data: [] }, { id: 40, data: [1, 2] }], csrcs: [5] }),
    ];
    const into = createRtpHeader();
    let parsed = 0;
    for (let i = 0; i < 20_000; i++) {
      const source = i % 3 === 0 ? r.bytes(r.int(48)) : mutate(valid[i % 2] as Uint8Array, r);
      if (i % 5 === 0 && source.length > 0) source[0] = 0x80 | ((source[0] as number) & 0x3f); // more v2 headers
      const view = guarded(source);
      const h = readRtpHeader(view, into);
      if (!h) continue;
      parsed++;
      expect(h.payloadOffset + h.payloadLength + h.paddingLength).toBe(source.length);
      expect(h.payloadLength).toBeGreaterThanOrEqual(0);
      for (let id = 0; id <= 16; id++) {
        const at = findHeaderExtension(view, h, id);
        if (at >= 0) {
          const len = headerExtensionLength(view, h, at);
          expect(at + len).toBeLessThanOrEqual(h.extensionOffset + h.extensionLength);
        }
      }
    }
    expect(parsed).toBeGreaterThan(1000);
  });
});

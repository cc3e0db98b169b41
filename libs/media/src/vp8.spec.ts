import { readRtpHeader } from './rtp';
import { buildRtp, buildVp8Payload, guarded, prng } from './testing';
import {
  createVp8Descriptor,
  isVp8Keyframe,
  readVp8Descriptor,
  writeVp8PictureId,
  writeVp8Tl0PicIdx,
} from './vp8';

function parse(payload: number[]): ReturnType<typeof readVp8Descriptor> {
  const bytes = Uint8Array.from(payload);
  return readVp8Descriptor(bytes, 0, bytes.length);
}

describe('readVp8Descriptor', () => {
  it('reads the one-byte descriptor', () => {
    expect(parse(buildVp8Payload({ start: true, partition: 0, nonReference: true }))).toMatchObject({
      offset: 0,
      length: 1,
      extended: false,
      nonReference: true,
      startOfPartition: true,
      partitionIndex: 0,
      pictureId: -1,
      pictureIdBits: 0,
      tl0PicIdx: -1,
      temporalLayer: -1,
      keyIndex: -1,
    });
  });

  it('reads a 7-bit picture id', () => {
    expect(parse(buildVp8Payload({ pictureId: 0x55, pictureIdBits: 7 }))).toMatchObject({
      length: 3,
      pictureId: 0x55,
      pictureIdBits: 7,
      pictureIdOffset: 2,
    });
  });

  it('reads a 15-bit picture id, TL0PICIDX, TID, Y and KEYIDX', () => {
    expect(
      parse(buildVp8Payload({ pictureId: 0x7abc, tl0PicIdx: 200, tid: 2, layerSync: true, keyIndex: 17, partition: 3, start: false })),
    ).toMatchObject({
      length: 6,
      extended: true,
      startOfPartition: false,
      partitionIndex: 3,
      pictureId: 0x7abc,
      pictureIdBits: 15,
      pictureIdOffset: 2,
      tl0PicIdx: 200,
      tl0PicIdxOffset: 4,
      temporalLayer: 2,
      layerSync: true,
      keyIndex: 17,
    });
  });

  it('reads KEYIDX without TID (K without T) and TID without KEYIDX', () => {
    expect(parse(buildVp8Payload({ keyIndex: 9 }))).toMatchObject({ temporalLayer: -1, keyIndex: 9, length: 3 });
    expect(parse(buildVp8Payload({ tid: 1 }))).toMatchObject({ temporalLayer: 1, keyIndex: -1, length: 3 });
  });

  it('reads at an offset inside an RTP packet and fills the object it is given', () => {
    const pkt = buildRtp({ extensions: [{ id: 1, data: [1, 2] }], payload: buildVp8Payload({ pictureId: 300, tl0PicIdx: 5 }) });
    const h = readRtpHeader(pkt);
    if (!h) throw new Error('did not parse');
    const into = createVp8Descriptor();
    const d = readVp8Descriptor(pkt, h.payloadOffset, h.payloadLength, into);
    expect(d).toBe(into);
    expect(d?.offset).toBe(h.payloadOffset);
    expect(d?.pictureIdOffset).toBe(h.payloadOffset + 2);
    expect(d?.pictureId).toBe(300);
  });

  it.each([
    ['empty payload', []],
    ['X without the extension byte', [0x90]],
    ['I without the picture id', [0x90, 0x80]],
    ['M without the second picture id byte', [0x90, 0x80, 0x81]],
    ['L without TL0PICIDX', [0x90, 0x40]],
    ['T without the TID byte', [0x90, 0x20]],
    ['K without the KEYIDX byte', [0x90, 0x10]],
  ])('rejects a truncated descriptor: %s', (_what, bytes) => {
    expect(parse(bytes)).toBeUndefined();
  });

  it('accepts a descriptor with no payload after it, which is never a keyframe', () => {
    expect(parse([0x90, 0x80, 0x05])).toMatchObject({ length: 3, pictureId: 5, isKeyframe: false });
  });
});

describe('keyframe detection', () => {
  it('is a keyframe when S=1, PID=0 and the payload header P bit is 0', () => {
    expect(parse(buildVp8Payload({ keyframe: true, pictureId: 1 }))?.isKeyframe).toBe(true);
    expect(parse(buildVp8Payload({ keyframe: true }))?.isKeyframe).toBe(true);
  });

  it('is not a keyframe for an inter frame, a continuation packet or another partition', () => {
    expect(parse(buildVp8Payload({ keyframe: false }))?.isKeyframe).toBe(false);
    expect(parse(buildVp8Payload({ keyframe: true, start: false }))?.isKeyframe).toBe(false);
    expect(parse(buildVp8Payload({ keyframe: true, partition: 1 }))?.isKeyframe).toBe(false);
  });

  it('isVp8Keyframe answers for a payload range', () => {
    const pkt = buildRtp({ payload: buildVp8Payload({ keyframe: true, tl0PicIdx: 3 }) });
    const h = readRtpHeader(pkt);
    if (!h) throw new Error('did not parse');
    expect(isVp8Keyframe(pkt, h.payloadOffset, h.payloadLength)).toBe(true);
    expect(isVp8Keyframe(pkt, h.payloadOffset, 0)).toBe(false);
  });
});

describe('writers', () => {
  it('keep a 7-bit picture id 7-bit, wrapping at 128', () => {
    const bytes = Uint8Array.from(buildVp8Payload({ pictureId: 3, pictureIdBits: 7 }));
    const d = readVp8Descriptor(bytes, 0, bytes.length);
    if (!d) throw new Error('did not parse');
    expect(writeVp8PictureId(bytes, d, 130)).toBe(true);
    expect(readVp8Descriptor(bytes, 0, bytes.length)).toMatchObject({ pictureId: 2, pictureIdBits: 7, length: 3 });
  });

  it('keep a 15-bit picture id 15-bit, wrapping at 32768', () => {
    const bytes = Uint8Array.from(buildVp8Payload({ pictureId: 3, tl0PicIdx: 1 }));
    const d = readVp8Descriptor(bytes, 0, bytes.length);
    if (!d) throw new Error('did not parse');
    writeVp8PictureId(bytes, d, 32768 + 77);
    writeVp8Tl0PicIdx(bytes, d, 256 + 4);
    expect(readVp8Descriptor(bytes, 0, bytes.length)).toMatchObject({ pictureId: 77, pictureIdBits: 15, tl0PicIdx: 4, length: 5 });
  });

  it('refuse fields the packet does not have', () => {
    const bytes = Uint8Array.from(buildVp8Payload({}));
    const before = Uint8Array.from(bytes);
    const d = readVp8Descriptor(bytes, 0, bytes.length);
    if (!d) throw new Error('did not parse');
    expect(writeVp8PictureId(bytes, d, 5)).toBe(false);
    expect(writeVp8Tl0PicIdx(bytes, d, 5)).toBe(false);
    expect(bytes).toEqual(before);
  });

  it('never change a byte after the descriptor (the payload may be encrypted)', () => {
    const r = prng(7);
    for (let i = 0; i < 2000; i++) {
      const has = r.int(16);
      const bits = r.next() < 0.5 ? 7 : 15;
      const payload = buildVp8Payload({
        pictureId: has & 1 ? r.int(bits === 7 ? 128 : 32768) : undefined,
        pictureIdBits: bits,
        tl0PicIdx: has & 2 ? r.int(256) : undefined,
        tid: has & 4 ? r.int(4) : undefined,
        keyIndex: has & 8 ? r.int(32) : undefined,
        keyframe: r.next() < 0.5,
        body: r.bytes(1 + r.int(40)),
      });
      const pkt = buildRtp({ payload });
      const h = readRtpHeader(pkt);
      const d = h && readVp8Descriptor(pkt, h.payloadOffset, h.payloadLength);
      if (!h || !d) throw new Error('did not parse');
      const tail = Buffer.from(pkt.subarray(d.offset + d.length));
      writeVp8PictureId(pkt, d, r.int(1 << 16));
      writeVp8Tl0PicIdx(pkt, d, r.int(512));
      expect(pkt.subarray(d.offset + d.length)).toEqual(tail);
      expect(readVp8Descriptor(pkt, h.payloadOffset, h.payloadLength)?.length).toBe(d.length);
    }
  });
});

describe('robustness against garbage', () => {
  it('never throws, never reads past the payload, and keeps the descriptor inside it', () => {
    const r = prng(99);
    const into = createVp8Descriptor();
    let parsed = 0;
    for (let i = 0; i < 20_000; i++) {
      const bytes = r.bytes(r.int(10));
      const view = guarded(bytes);
      const start = bytes.length === 0 ? 0 : r.int(bytes.length);
      const len = r.int(bytes.length - start + 3); // sometimes longer than the buffer
      const d = readVp8Descriptor(view, start, len, into);
      if (!d) continue;
      parsed++;
      expect(d.offset + d.length).toBeLessThanOrEqual(Math.min(start + len, bytes.length));
    }
    expect(parsed).toBeGreaterThan(5000);
  });
});

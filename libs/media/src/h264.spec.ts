import { isH264Keyframe } from './h264';
import { guarded, prng } from './testing';

function key(bytes: number[]): boolean {
  const b = Uint8Array.from(bytes);
  return isH264Keyframe(b, 0, b.length);
}

describe('isH264Keyframe', () => {
  it('single NAL units: IDR and SPS start a keyframe, others do not', () => {
    expect(key([0x65, 0x88, 0x84])).toBe(true); // IDR (nri 3)
    expect(key([0x67, 0x42, 0xc0])).toBe(true); // SPS
    expect(key([0x41, 0x9a])).toBe(false); // non-IDR slice
    expect(key([0x68, 0xce])).toBe(false); // PPS
    expect(key([0x06, 0x05])).toBe(false); // SEI
  });

  it('STAP-A holding SPS, PPS and IDR is a keyframe', () => {
    expect(key([0x78, 0, 3, 0x67, 1, 2, 0, 2, 0x68, 1, 0, 3, 0x65, 9, 9])).toBe(true);
  });

  it('STAP-A finds an IDR after other units, and not when there is none', () => {
    expect(key([0x78, 0, 2, 0x06, 1, 0, 2, 0x65, 1])).toBe(true);
    expect(key([0x78, 0, 2, 0x41, 1, 0, 2, 0x41, 2])).toBe(false);
  });

  it('STAP-A stops at a size that runs past the payload or is zero', () => {
    expect(key([0x78, 0, 9, 0x41, 1, 0, 2, 0x65, 1])).toBe(false);
    expect(key([0x78, 0, 0, 0, 2, 0x65, 1])).toBe(false);
    expect(key([0x78, 0])).toBe(false);
  });

  it('FU-A: only the start fragment of an IDR or SPS', () => {
    expect(key([0x7c, 0x85, 1, 2])).toBe(true); // S=1, type 5
    expect(key([0x7c, 0x87, 1])).toBe(true); // S=1, type 7
    expect(key([0x7c, 0x05, 1])).toBe(false); // middle fragment
    expect(key([0x7c, 0x45, 1])).toBe(false); // end fragment
    expect(key([0x7c, 0x81, 1])).toBe(false); // start of a non-IDR slice
    expect(key([0x7c])).toBe(false);
  });

  it('reads only the given payload range', () => {
    const b = Uint8Array.from([0x65, 0x41, 0x99, 0x65]);
    expect(isH264Keyframe(b, 1, 2)).toBe(false);
    expect(isH264Keyframe(b, 3, 1)).toBe(true);
    expect(isH264Keyframe(b, 0, 0)).toBe(false);
    expect(isH264Keyframe(b, 4, 5)).toBe(false);
  });

  it('never throws or reads past the payload on garbage', () => {
    const r = prng(264);
    let keyframes = 0;
    for (let i = 0; i < 20_000; i++) {
      const bytes = r.bytes(r.int(24));
      if (bytes.length > 0 && i % 2 === 0) bytes[0] = (i % 4 === 0 ? 24 : 28) | 0x60;
      const start = bytes.length === 0 ? 0 : r.int(bytes.length);
      if (isH264Keyframe(guarded(bytes), start, bytes.length - start + r.int(4))) keyframes++;
    }
    expect(keyframes).toBeGreaterThan(0);
  });
});

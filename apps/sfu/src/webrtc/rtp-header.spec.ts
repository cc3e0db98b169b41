import fc from 'fast-check';
import { RtpHeader } from 'werift';

// werift patch 013 (docs/werift.md) rewrote RtpHeader's constructor and the
// bit fields of RtpHeader.deSerialize for speed; werift's serialize (not
// patched) writes what it must read back.
describe('RtpHeader.deSerialize (patch 013)', () => {
  it('reads back every field werift serializes: flags, CSRCs, one- and two-byte extensions', () => {
    const extension = (maxId: number, maxLength: number) =>
      fc.record({ id: fc.integer({ min: 1, max: maxId }), payload: fc.uint8Array({ minLength: 1, maxLength }).map((a) => Buffer.from(a)) });
    fc.assert(
      fc.property(
        fc.record({
          marker: fc.boolean(),
          payloadType: fc.integer({ min: 0, max: 127 }),
          sequenceNumber: fc.integer({ min: 0, max: 0xffff }),
          timestamp: fc.integer({ min: 0, max: 0xffff_ffff }),
          ssrc: fc.integer({ min: 0, max: 0xffff_ffff }),
          csrc: fc.array(fc.integer({ min: 0, max: 0xffff_ffff }), { maxLength: 15 }),
        }),
        fc.oneof(
          fc.constant({ profile: 0xbede, extensions: [] as { id: number; payload: Buffer }[] }),
          fc.record({ profile: fc.constant(0xbede), extensions: fc.array(extension(14, 16), { minLength: 1, maxLength: 5 }) }),
          fc.record({ profile: fc.constant(0x1000), extensions: fc.array(extension(255, 40), { minLength: 1, maxLength: 5 }) }),
        ),
        (fields, { profile, extensions }) => {
          const header = new RtpHeader({ ...fields, extensionProfile: profile, extensions });
          const wire = header.serialize(header.serializeSize);
          const read = RtpHeader.deSerialize(wire);
          expect(read.version).toBe(2);
          expect(read.padding).toBe(false);
          expect(read.marker).toBe(fields.marker);
          expect(read.payloadType).toBe(fields.payloadType);
          expect(read.sequenceNumber).toBe(fields.sequenceNumber);
          expect(read.timestamp).toBe(fields.timestamp);
          expect(read.ssrc).toBe(fields.ssrc);
          expect(read.csrcLength).toBe(fields.csrc.length);
          expect(read.csrc).toEqual(fields.csrc);
          expect(read.extension).toBe(extensions.length > 0);
          expect(read.extensions.map((e) => ({ id: e.id, payload: Buffer.from(e.payload) }))).toEqual(extensions);
          expect(read.payloadOffset).toBe(wire.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads the padding flag and size', () => {
    const wire = Buffer.from('a0e1000100000002000000030000000000000004', 'hex');
    const read = RtpHeader.deSerialize(wire);
    expect(read.padding).toBe(true);
    expect(read.paddingSize).toBe(4);
    expect(read.marker).toBe(true);
    expect(read.payloadType).toBe(0x61);
  });
});

import { MeetedgeError } from './errors';
import { MeetingId, ModuleId, isIdSyntax } from './ids';

describe('ids', () => {
  it('accepts ids of letters, digits, dot, dash and underscore', () => {
    expect(MeetingId('m-1')).toBe('m-1');
    expect(ModuleId('sfu_01.hq')).toBe('sfu_01.hq');
    expect(MeetingId('a'.repeat(64))).toHaveLength(64);
  });

  it.each([
    ['empty', ''],
    ['too long', 'a'.repeat(65)],
    ['leading dash', '-m'],
    ['a colon (would break Redis key names)', 'm:1'],
    ['a space', 'm 1'],
    ['a slash', 'm/1'],
    ['a number', 42],
    ['undefined', undefined],
  ])('refuses %s with INVALID_ID naming the kind', (_what, value) => {
    let caught: unknown;
    try {
      MeetingId(value);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MeetedgeError);
    expect((caught as MeetedgeError).code).toBe('INVALID_ID');
    expect((caught as MeetedgeError).message).toMatch(/^MeetingId must be/);
  });

  it('shortens long bad values in the message', () => {
    expect(() => ModuleId('x'.repeat(200) + ' ')).toThrow(/…"$/);
  });

  it('isIdSyntax agrees with the parsers', () => {
    expect(isIdSyntax('ok-1')).toBe(true);
    expect(isIdSyntax('no:colon')).toBe(false);
    expect(isIdSyntax(7)).toBe(false);
  });
});

import { KeyframeAction, KeyframeRequester } from './keyframe-requests';

describe('KeyframeRequester', () => {
  it('sends the first request at once and folds the next ones into it', () => {
    const k = new KeyframeRequester();
    expect(k.request(1000)).toBe(KeyframeAction.Pli);
    expect(k.needed).toBe(true);
    for (let t = 1001; t < 1500; t += 50) expect(k.request(t)).toBe(KeyframeAction.None);
    expect(k.sent).toBe(1);
    expect(k.coalesced).toBe(10);
  });

  it('repeats the request every interval until a keyframe arrives', () => {
    const k = new KeyframeRequester({ minIntervalMs: 500 });
    k.request(0);
    expect(k.poll(499)).toBe(KeyframeAction.None);
    expect(k.poll(500)).toBe(KeyframeAction.Pli);
    expect(k.poll(600)).toBe(KeyframeAction.None);
    k.onKeyframe();
    expect(k.needed).toBe(false);
    expect(k.poll(1000)).toBe(KeyframeAction.None);
    expect(k.sent).toBe(2);
  });

  it('holds a new need that comes too soon after the last request until the interval passes', () => {
    const k = new KeyframeRequester({ minIntervalMs: 300 });
    expect(k.request(0)).toBe(KeyframeAction.Pli);
    k.onKeyframe();
    expect(k.request(100)).toBe(KeyframeAction.None);
    expect(k.poll(299)).toBe(KeyframeAction.None);
    expect(k.poll(300)).toBe(KeyframeAction.Pli);
  });

  it('does nothing when nobody asked', () => {
    const k = new KeyframeRequester();
    expect(k.poll(10_000)).toBe(KeyframeAction.None);
    k.onKeyframe();
    expect(k.poll(20_000)).toBe(KeyframeAction.None);
    expect(k.sent).toBe(0);
  });

  it('FIR: one command number per need, repeated unchanged, wrapping at 256', () => {
    const k = new KeyframeRequester({ useFir: true, minIntervalMs: 100 });
    expect(k.request(0)).toBe(KeyframeAction.Fir);
    expect(k.firSequenceNumber).toBe(0);
    expect(k.poll(100)).toBe(KeyframeAction.Fir); // repetition
    expect(k.firSequenceNumber).toBe(0);
    k.onKeyframe();
    expect(k.request(200)).toBe(KeyframeAction.Fir);
    expect(k.firSequenceNumber).toBe(1);
    for (let i = 0; i < 255; i++) {
      k.onKeyframe();
      k.request(300 + i * 100);
    }
    expect(k.firSequenceNumber).toBe(0);
  });

  it('FIR: a need met before its request went out does not use up a number', () => {
    const k = new KeyframeRequester({ useFir: true, minIntervalMs: 100 });
    k.request(0); // number 0 sent
    k.onKeyframe();
    expect(k.request(50)).toBe(KeyframeAction.None); // number 1, not yet sent
    k.onKeyframe();
    expect(k.request(150)).toBe(KeyframeAction.Fir);
    expect(k.firSequenceNumber).toBe(1);
  });
});

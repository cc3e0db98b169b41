import { AUDIO_LEVEL_VOICE_BIT, SpeakerTracker, audioLevelOf, readAudioLevelByte, voiceActivityOf } from './audio-level';
import { readRtpHeader } from './rtp';
import { buildRtp } from './testing';

describe('audio level extension (RFC 6464)', () => {
  it('reads the V bit and the level from the negotiated extension id', () => {
    const pkt = buildRtp({ extensions: [{ id: 4, data: [1, 2] }, { id: 1, data: [0x80 | 25] }], payloadType: 111 });
    const h = readRtpHeader(pkt);
    if (!h) throw new Error('did not parse');
    const b = readAudioLevelByte(pkt, h, 1);
    expect(b).toBe(0x99);
    expect(audioLevelOf(b)).toBe(25);
    expect(voiceActivityOf(b)).toBe(true);
    expect(voiceActivityOf(127)).toBe(false);
    expect(AUDIO_LEVEL_VOICE_BIT).toBe(0x80);
  });

  it('answers -1 when the packet does not carry it', () => {
    const pkt = buildRtp({ extensions: [{ id: 2, data: [30] }] });
    const h = readRtpHeader(pkt);
    if (!h) throw new Error('did not parse');
    expect(readAudioLevelByte(pkt, h, 1)).toBe(-1);
  });
});

/** Feeds 20-ms samples for each participant from `from` to `to` ms. */
function talk(t: SpeakerTracker, levels: Record<string, number>, from: number, to: number): void {
  for (let now = from; now < to; now += 20) for (const [id, level] of Object.entries(levels)) t.addLevel(id, level, now);
}

describe('SpeakerTracker', () => {
  it('reports a first speaker at once, with the dominant one first', () => {
    const t = new SpeakerTracker();
    talk(t, { alice: 30, bob: 127 }, 0, 300);
    expect(t.update(300)).toEqual({ speakers: ['alice'], added: ['alice'], removed: [] });
    expect(t.update(320)).toBeUndefined();
    expect(t.speakers).toEqual(['alice']);
  });

  it('ignores silence: quiet participants are never speakers', () => {
    const t = new SpeakerTracker({ silenceLevel: 70 });
    talk(t, { a: 127, b: 90, c: 70 }, 0, 1000);
    expect(t.update(1000)).toBeUndefined();
    expect(t.loudness('a', 1000)).toBe(0);
    expect(t.loudness('c', 1000)).toBe(0);
  });

  it('keeps the loudest three, loudest first', () => {
    const t = new SpeakerTracker();
    talk(t, { a: 50, b: 20, c: 40, d: 30 }, 0, 300);
    const change = t.update(300);
    expect(change?.speakers).toEqual(['b', 'd', 'c']);
  });

  it('does not flap when two people talk about equally loud', () => {
    const t = new SpeakerTracker({ maxSpeakers: 1 });
    const changes: unknown[] = [];
    for (let now = 0; now < 10_000; now += 20) {
      // a and b alternate being slightly louder every 200 ms.
      const aLouder = Math.floor(now / 200) % 2 === 0;
      t.addLevel('a', aLouder ? 30 : 33, now);
      t.addLevel('b', aLouder ? 33 : 30, now);
      if (now % 100 === 0) {
        const c = t.update(now);
        if (c) changes.push(c);
      }
    }
    expect(changes).toHaveLength(1);
  });

  it('takes over at the first update after the hold time when the challenger is clearly louder', () => {
    const t = new SpeakerTracker({ maxSpeakers: 1, minHoldMs: 1000 });
    talk(t, { a: 40 }, 0, 300);
    t.update(300); // a's rank is held from here
    const seen: Array<[number, readonly string[]]> = [];
    for (let now = 300; now < 2000; now += 20) {
      t.addLevel('a', 40, now);
      t.addLevel('b', 10, now);
      const c = t.update(now);
      if (c) seen.push([now, c.speakers]);
    }
    expect(seen).toHaveLength(1);
    const [at, speakers] = seen[0] ?? [0, []];
    expect(speakers).toEqual(['b']);
    expect(at).toBeGreaterThanOrEqual(1300);
    expect(at).toBeLessThan(1400);
  });

  it('does not let a slightly louder challenger take a held rank (hysteresis)', () => {
    const t = new SpeakerTracker({ maxSpeakers: 1, hysteresis: 0.2 });
    talk(t, { a: 40 }, 0, 300);
    t.update(300);
    // loudness a = 70-40 = 30, b = 70-36 = 34: 13 % louder, less than 20 %.
    for (let now = 300; now < 5000; now += 20) {
      t.addLevel('a', 40, now);
      t.addLevel('b', 36, now);
      expect(t.update(now)).toBeUndefined();
    }
  });

  it('admits a new speaker from its first sample into a free rank or in place of someone silent', () => {
    const t = new SpeakerTracker({ maxSpeakers: 1, minHoldMs: 500 });
    talk(t, { a: 30 }, 0, 300);
    t.update(300);
    expect(t.shouldForwardAudio('a', 'x')).toBe(true);
    // c is the reserve (rank 2) from its first sample: forwarded to a, who is the speaker.
    t.addLevel('c', 50, 320);
    expect(t.shouldForwardAudio('c', 'a')).toBe(true);
    expect(t.shouldForwardAudio('c', 'x')).toBe(false);
    // a falls silent; after a window and the hold, d's first active sample takes a's rank.
    talk(t, { a: 127, c: 127 }, 320, 1000);
    t.addLevel('d', 35, 1000);
    expect(t.shouldForwardAudio('d', 'x')).toBe(true);
    expect(t.update(1000)).toMatchObject({ added: ['d'], removed: ['a'] });
  });

  it('forwards to each subscriber the loudest N others: a speaker hears the next one instead of itself', () => {
    const t = new SpeakerTracker({ maxSpeakers: 3 });
    talk(t, { a: 10, b: 20, c: 30, d: 40, e: 50 }, 0, 300);
    expect(t.update(300)?.speakers).toEqual(['a', 'b', 'c']);
    // A listener who is not speaking gets a, b, c.
    expect(['a', 'b', 'c', 'd', 'e'].filter((id) => t.shouldForwardAudio(id, 'x'))).toEqual(['a', 'b', 'c']);
    // a gets b, c and d; c gets a, b, d; nobody gets its own audio or e's.
    expect(['a', 'b', 'c', 'd', 'e'].filter((id) => t.shouldForwardAudio(id, 'a'))).toEqual(['b', 'c', 'd']);
    expect(['a', 'b', 'c', 'd', 'e'].filter((id) => t.shouldForwardAudio(id, 'c'))).toEqual(['a', 'b', 'd']);
    expect(t.shouldForwardAudio('e', 'e')).toBe(false);
  });

  it('removes a participant who leaves and reports it', () => {
    const t = new SpeakerTracker();
    talk(t, { a: 10, b: 20 }, 0, 300);
    t.update(300);
    t.remove('a');
    expect(t.update(320)).toEqual({ speakers: ['b'], added: [], removed: ['a'] });
    expect(t.shouldForwardAudio('a', 'x')).toBe(false);
    expect(t.loudness('a', 320)).toBe(0);
  });

  it('averages over the window only', () => {
    const t = new SpeakerTracker({ windowMs: 300, silenceLevel: 70 });
    talk(t, { a: 30 }, 0, 300);
    expect(t.loudness('a', 290)).toBe(40);
    talk(t, { a: 127 }, 300, 450);
    // 150 ms of silence and 150 ms of speech in the window.
    expect(t.loudness('a', 440)).toBeCloseTo(40 * (7 / 15), 5);
    expect(t.loudness('a', 2000)).toBe(0);
  });

  it('can use the V bit as a silence signal', () => {
    const t = new SpeakerTracker({ useVoiceActivity: true });
    for (let now = 0; now < 300; now += 20) t.addLevel('a', 20, now, false);
    expect(t.update(300)).toBeUndefined();
  });
});

describe('SpeakerTracker holds', () => {
  it('a rank taken in an update is held against fast admission until its hold passes', () => {
    const t = new SpeakerTracker({ maxSpeakers: 1, minHoldMs: 1000, windowMs: 100 });
    talk(t, { a: 30, b: 20 }, 0, 100);
    expect(t.update(100)?.speakers).toEqual(['b']);
    // Both fall silent; c speaks 200 ms later: b's rank is still held, a's is too (confirmed at 100).
    t.addLevel('c', 20, 300);
    expect(t.shouldForwardAudio('c', 'x')).toBe(false);
    // After the hold, c's first sample takes the top rank at once.
    t.addLevel('d', 20, 1100);
    expect(t.shouldForwardAudio('d', 'x')).toBe(true);
  });
});

/**
 * Audio levels (RFC 6464) and active speakers.
 *
 * Each Opus packet from a browser carries, in the clear, the client-to-mixer
 * audio level extension: a V (voice activity) bit and the level in -dBov
 * (0 = loudest, 127 = silence). From those the SFU ranks who is speaking,
 * tells clients about active-speaker changes, and forwards to each
 * subscriber only the audio of the N loudest others, so a 50-person meeting
 * does not send 49 audio streams to everyone.
 */
import { u8 } from './bytes';
import { type RtpHeader, findHeaderExtension } from './rtp';

/** The V bit of the audio level byte: the sender's VAD thinks this is voice. */
export const AUDIO_LEVEL_VOICE_BIT = 0x80;

/**
 * The audio level byte of a packet (V bit and 7-bit level), from header
 * extension element `extensionId` (the id negotiated for
 * `urn:ietf:params:rtp-hdrext:ssrc-audio-level`).
 * @returns the byte (0..255), or -1 when the packet does not carry it
 */
export function readAudioLevelByte(buf: Uint8Array, h: RtpHeader, extensionId: number): number {
  const offset = findHeaderExtension(buf, h, extensionId);
  if (offset < 0 || offset >= buf.length) return -1;
  return u8(buf, offset);
}

/** The level of an audio level byte, in -dBov: 0 (loudest) .. 127 (silence). */
export function audioLevelOf(levelByte: number): number {
  return levelByte & 0x7f;
}

/** The V bit of an audio level byte. */
export function voiceActivityOf(levelByte: number): boolean {
  return (levelByte & AUDIO_LEVEL_VOICE_BIT) !== 0;
}

/** Options of `SpeakerTracker`. */
export interface SpeakerTrackerOptions {
  /** Window the loudness of each participant is averaged over, in ms. Default 300. */
  windowMs?: number;
  /** How many speakers are active at once, and how many audio streams each subscriber gets. Default 3. */
  maxSpeakers?: number;
  /** Levels at or above this (in -dBov, i.e. this quiet or quieter) count as silence. Default 70. */
  silenceLevel?: number;
  /** Least time a speaker keeps its rank (active, or ahead of another) once it got it, in ms. Default 1000. */
  minHoldMs?: number;
  /** How much louder (as a fraction) a challenger must be to take a held rank. Default 0.2 (20 %). */
  hysteresis?: number;
  /** Samples kept per participant; enough for one window at the shortest packet time. Default 64. */
  maxSamples?: number;
  /** Treat samples whose V bit is clear as silence. Default false (not every sender sets V). */
  useVoiceActivity?: boolean;
}

/** An active-speaker change, to tell the meeting's clients. */
export interface SpeakerChange<Id extends string = string> {
  /** The active speakers now, loudest (dominant) first. */
  speakers: readonly Id[];
  /** Who became active. */
  added: readonly Id[];
  /** Who stopped being active (replaced, or left). */
  removed: readonly Id[];
}

interface Levels {
  readonly times: Float64Array;
  readonly scores: Float32Array;
  next: number;
  lastActiveMs: number;
  /** Loudness at the last `update`. */
  score: number;
  /** When it took its current rank (-Infinity: provisional, not held). */
  rankSinceMs: number;
  /** The `update` that last moved it. */
  movedIn: number;
}

/**
 * Ranks participants by recent loudness for one meeting.
 *
 * Loudness of a sample is how far above the silence level it is (so silence
 * scores 0); a participant's loudness is the mean over the samples of the
 * last `windowMs`. Rankings move only with hysteresis and hold times, so the
 * set of speakers does not flap between two people talking at once.
 *
 * The tracker ranks `maxSpeakers + 1` people: a subscriber who is itself
 * among the loudest gets the next one instead of its own voice.
 *
 * Per audio packet call `addLevel` (before `shouldForwardAudio`, so a new
 * speaker taking a free or silent slot is heard from the first packet); every
 * 100–300 ms call `update` and send its change, if any, to the clients.
 */
export class SpeakerTracker<Id extends string = string> {
  private readonly windowMs: number;
  private readonly maxSpeakers: number;
  private readonly silenceLevel: number;
  private readonly minHoldMs: number;
  private readonly factor: number;
  private readonly maxSamples: number;
  private readonly useVoiceActivity: boolean;
  private readonly levels = new Map<Id, Levels>();
  /** Loudest first, with hysteresis; at most maxSpeakers + 1. */
  private readonly ranked: Id[] = [];
  private published: readonly Id[] = [];
  /** Counts `update` calls, so ranks moved within one update are not held against each other. */
  private epoch = 0;

  constructor(options: SpeakerTrackerOptions = {}) {
    this.windowMs = options.windowMs ?? 300;
    this.maxSpeakers = Math.max(1, options.maxSpeakers ?? 3);
    this.silenceLevel = options.silenceLevel ?? 70;
    this.minHoldMs = options.minHoldMs ?? 1000;
    this.factor = 1 + (options.hysteresis ?? 0.2);
    this.maxSamples = Math.max(1, options.maxSamples ?? 64);
    this.useVoiceActivity = options.useVoiceActivity ?? false;
  }

  /** The active speakers as of the last change `update` returned, loudest first. */
  get speakers(): readonly Id[] {
    return this.published;
  }

  /**
   * Records one audio level sample.
   * @param level -dBov, 0 (loudest) .. 127 (silence): `audioLevelOf(byte)`
   * @param voice the V bit (`voiceActivityOf(byte)`); only used with `useVoiceActivity`
   */
  addLevel(id: Id, level: number, nowMs: number, voice = true): void {
    let p = this.levels.get(id);
    if (!p) {
      p = {
        times: new Float64Array(this.maxSamples).fill(Number.NEGATIVE_INFINITY),
        scores: new Float32Array(this.maxSamples),
        next: 0,
        lastActiveMs: Number.NEGATIVE_INFINITY,
        score: 0,
        rankSinceMs: Number.NEGATIVE_INFINITY,
        movedIn: -1,
      };
      this.levels.set(id, p);
    }
    const active = level < this.silenceLevel && (voice || !this.useVoiceActivity);
    p.times[p.next] = nowMs;
    p.scores[p.next] = active ? this.silenceLevel - level : 0;
    p.next = (p.next + 1) % this.maxSamples;
    if (!active) return;
    p.lastActiveMs = nowMs;
    if (this.ranked.includes(id)) return;
    // Fast admission, so the first syllable is forwarded: a free rank, or the
    // highest rank held by someone silent for a whole window and past its
    // hold (everyone above is still talking). The rank is provisional: the
    // next `update` may move it freely, then holds it.
    if (this.ranked.length < this.maxSpeakers + 1) {
      this.ranked.push(id);
      p.rankSinceMs = Number.NEGATIVE_INFINITY;
      return;
    }
    for (let i = 0; i < this.ranked.length; i++) {
      const member = this.levels.get(this.ranked[i] as Id);
      if (member && nowMs - member.lastActiveMs > this.windowMs && !this.held(this.ranked[i] as Id, nowMs)) {
        this.ranked[i] = id;
        p.rankSinceMs = Number.NEGATIVE_INFINITY;
        return;
      }
    }
  }

  /** Forgets a participant who left; the next `update` reports it removed if it was a speaker. */
  remove(id: Id): void {
    this.levels.delete(id);
    const i = this.ranked.indexOf(id);
    if (i >= 0) this.ranked.splice(i, 1);
  }

  /** Mean loudness over the window (0 = silent or unknown); larger is louder. */
  loudness(id: Id, nowMs: number): number {
    const p = this.levels.get(id);
    return p ? this.measure(p, nowMs) : 0;
  }

  /**
   * Re-ranks everyone from their recent loudness.
   * @returns the change of the active speaker set (or of the dominant
   *   speaker), or undefined when nothing visible changed
   */
  update(nowMs: number): SpeakerChange<Id> | undefined {
    this.epoch++;
    for (const p of this.levels.values()) p.score = this.measure(p, nowMs);
    const challengers = [...this.levels.keys()]
      .filter((id) => !this.ranked.includes(id) && this.scoreOf(id) > 0)
      .sort((a, b) => this.scoreOf(b) - this.scoreOf(a));
    for (const c of challengers) {
      if (this.ranked.length < this.maxSpeakers + 1) {
        this.ranked.push(c);
        this.hold(c, nowMs);
        continue;
      }
      // The weakest member whose hold has passed may be replaced.
      let weakest = -1;
      for (let i = 0; i < this.ranked.length; i++) {
        const id = this.ranked[i] as Id;
        if (!this.held(id, nowMs) && (weakest < 0 || this.scoreOf(id) < this.scoreOf(this.ranked[weakest] as Id))) {
          weakest = i;
        }
      }
      if (weakest < 0 || !(this.scoreOf(c) > this.scoreOf(this.ranked[weakest] as Id) * this.factor)) break;
      this.ranked[weakest] = c;
      this.hold(c, nowMs);
    }
    // Move louder members up, one rank at a time, each past a member whose
    // hold has passed and who is quieter by the hysteresis margin.
    for (let i = 1; i < this.ranked.length; i++) {
      for (let j = i; j > 0; j--) {
        const up = this.ranked[j] as Id;
        const down = this.ranked[j - 1] as Id;
        if (this.held(down, nowMs) || !(this.scoreOf(up) > this.scoreOf(down) * this.factor)) break;
        this.ranked[j - 1] = up;
        this.ranked[j] = down;
        this.hold(up, nowMs);
      }
    }
    // Provisional ranks (fast admissions) are confirmed, and held from now.
    for (const id of this.ranked) {
      const p = this.levels.get(id);
      if (p && p.rankSinceMs === Number.NEGATIVE_INFINITY) p.rankSinceMs = nowMs;
    }
    // Moves of this update are held from now on, also against fast admissions.
    this.epoch++;
    const next = this.ranked.slice(0, this.maxSpeakers);
    const added = next.filter((id) => !this.published.includes(id));
    const removed = this.published.filter((id) => !next.includes(id));
    if (added.length === 0 && removed.length === 0 && next[0] === this.published[0]) return undefined;
    this.published = next;
    return { speakers: next, added, removed };
  }

  /**
   * Whether `to` should receive `from`'s audio: `from` is among the
   * `maxSpeakers` loudest participants other than `to`. Allocation-free, for
   * every audio packet and subscriber.
   */
  shouldForwardAudio(from: Id, to: Id): boolean {
    if (from === to) return false;
    let n = 0;
    for (let i = 0; i < this.ranked.length; i++) {
      const id = this.ranked[i];
      if (id === to) continue;
      if (id === from) return true;
      if (++n >= this.maxSpeakers) return false;
    }
    return false;
  }

  private measure(p: Levels, nowMs: number): number {
    let sum = 0;
    let count = 0;
    const from = nowMs - this.windowMs;
    for (let i = 0; i < this.maxSamples; i++) {
      const t = p.times[i] as number;
      if (t > from && t <= nowMs) {
        sum += p.scores[i] as number;
        count++;
      }
    }
    return count === 0 ? 0 : sum / count;
  }

  private scoreOf(id: Id): number {
    return this.levels.get(id)?.score ?? 0;
  }

  /**
   * True while `id` keeps its rank. Ranks taken during the current `update`
   * are not held yet, so one update can sort several newcomers.
   */
  private held(id: Id, nowMs: number): boolean {
    const p = this.levels.get(id);
    return p !== undefined && p.movedIn !== this.epoch && nowMs - p.rankSinceMs < this.minHoldMs;
  }

  private hold(id: Id, nowMs: number): void {
    const p = this.levels.get(id);
    if (p) {
      p.rankSinceMs = nowMs;
      p.movedIn = this.epoch;
    }
  }
}

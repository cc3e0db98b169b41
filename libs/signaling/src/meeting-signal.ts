/**
 * The meeting signaling protocol: JSON messages over one WebSocket per
 * participant, `GET /v1/meetings/:id/signal`, on the control plane's cloud
 * meeting server for cloud-hybrid meetings, and on the participant's module
 * for internal-only ones (the module relays it to the meeting's top, which
 * holds the room; docs/protocol.md, "Meeting signaling"). It carries
 * what is the meeting's and not the media's: the roster (who is here, their
 * name, mute state, raised hand, and where their media is attached: a module
 * or the cloud MMR), chat, the host's actions (mute all, remove, end), and the
 * meeting's media key. Media itself goes to a module or the cloud MMR over the
 * media session (./media-session.ts). In cloud-hybrid meetings modules never
 * see this protocol nor the key; in internal-only ones the top module is the
 * meeting server.
 *
 * One TypeBox definition per message gives both the JSON Schema that
 * validates it at the door and its static type. Client messages refuse
 * unknown properties; server messages do not, so a server may add a field
 * without breaking older clients.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const Id = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' });
/** A name as a person sees it: 1–64 characters, not only spaces (the control plane's rule). */
const DisplayName = Type.String({ minLength: 1, maxLength: 64, pattern: '\\S' });
/** Longest chat text, bytes of UTF-8 (the decoder counts bytes; the schema bounds characters first). */
export const MAX_CHAT_TEXT_BYTES = 4096;
const EpochMs = Type.Integer({ minimum: 0, description: 'ms since the epoch' });

/**
 * Where a participant's media is attached: a module inside the company's
 * network (placed by a ZCP), or the cloud MMR (people outside, guests, or a
 * full zone). Reported by the participant's client: it tells the roster, it
 * grants nothing.
 */
export const MediaAttachmentSchema = Type.Union([
  Type.Object({ kind: Type.Literal('module'), moduleId: Id }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('cloud') }, { additionalProperties: false }),
]);
export type MediaAttachment = Static<typeof MediaAttachmentSchema>;

// ── Client → meeting server ──────────────────────────────────────────────

/**
 * First message, exactly once: an access token from the control plane, a
 * member's (POST /v1/sign-in) for a meeting of their account, or a guest's
 * (POST /v1/meetings/:id/guest-join) for this meeting; on a module (an
 * internal-only meeting), the join ticket its ZCP gave for that module.
 * Anything else first, or nothing within the hello timeout, ends the session.
 */
export const HelloMessage = Type.Object(
  { type: Type.Literal('hello'), token: Type.String({ minLength: 1, maxLength: 4096 }) },
  { additionalProperties: false },
);

/** Where this participant's media now goes (after a ZCP placed it, or after it fell back to the cloud MMR). */
export const MediaAttachedMessage = Type.Object(
  { type: Type.Literal('media-attached'), where: MediaAttachmentSchema },
  { additionalProperties: false },
);

/** This participant's own mute state: `true` is muted. Give one or both. */
export const MuteMessage = Type.Object(
  { type: Type.Literal('mute'), audio: Type.Optional(Type.Boolean()), video: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);

export const RaiseHandMessage = Type.Object({ type: Type.Literal('raise-hand'), raised: Type.Boolean() }, { additionalProperties: false });

/** The name others see in this meeting (the account's name is unchanged). */
export const SetNameMessage = Type.Object({ type: Type.Literal('set-name'), displayName: DisplayName }, { additionalProperties: false });

/** A chat message to everyone, or with `to` to one participant only (the sender gets it back either way). */
export const ChatMessage = Type.Object(
  {
    type: Type.Literal('chat'),
    text: Type.String({ minLength: 1, maxLength: MAX_CHAT_TEXT_BYTES, pattern: '\\S' }),
    to: Type.Optional(Id),
  },
  { additionalProperties: false },
);

/** Host: mute every other participant's audio. */
export const MuteAllMessage = Type.Object({ type: Type.Literal('mute-all') }, { additionalProperties: false });

/** Host: take a participant out of the meeting; they may not come back while the meeting runs. */
export const RemoveMessage = Type.Object({ type: Type.Literal('remove'), participantId: Id }, { additionalProperties: false });

/** Host: end the meeting for everyone. */
export const EndMessage = Type.Object({ type: Type.Literal('end') }, { additionalProperties: false });

/** This participant leaves; the server answers by closing the socket. */
export const LeaveMeetingMessage = Type.Object({ type: Type.Literal('leave') }, { additionalProperties: false });

export const MeetingClientMessageSchema = Type.Union([
  HelloMessage,
  MediaAttachedMessage,
  MuteMessage,
  RaiseHandMessage,
  SetNameMessage,
  ChatMessage,
  MuteAllMessage,
  RemoveMessage,
  EndMessage,
  LeaveMeetingMessage,
]);
export type MeetingClientMessage = Static<typeof MeetingClientMessageSchema>;
export type MeetingClientMessageType = MeetingClientMessage['type'];
export type MeetingClientMessageOf<T extends MeetingClientMessageType> = Extract<MeetingClientMessage, { type: T }>;
export const MEETING_CLIENT_MESSAGE_SCHEMAS: Readonly<Record<MeetingClientMessageType, TSchema>> = {
  hello: HelloMessage,
  'media-attached': MediaAttachedMessage,
  mute: MuteMessage,
  'raise-hand': RaiseHandMessage,
  'set-name': SetNameMessage,
  chat: ChatMessage,
  'mute-all': MuteAllMessage,
  remove: RemoveMessage,
  end: EndMessage,
  leave: LeaveMeetingMessage,
};
/** The client messages only a host (the meeting's host, or an admin of its account) may send. */
export const HOST_MESSAGE_TYPES: readonly MeetingClientMessageType[] = ['mute-all', 'remove', 'end'];

// ── Meeting server → client ──────────────────────────────────────────────

/**
 * One participant as everyone sees them. Never a token, an e-mail address or
 * anything else of the account: a member's `participantId` is their user id,
 * a guest's the random id of their guest token.
 */
export const RosterEntrySchema = Type.Object({
  participantId: Id,
  displayName: Type.String(),
  kind: Type.Union([Type.Literal('member'), Type.Literal('guest')]),
  /** The meeting's host or an admin of its account: may mute all, remove, end. */
  isHost: Type.Boolean(),
  audioMuted: Type.Boolean(),
  videoMuted: Type.Boolean(),
  handRaised: Type.Boolean(),
  /** Where the participant's media is attached; null until its client says. */
  media: Type.Union([MediaAttachmentSchema, Type.Null()]),
});
export type RosterEntry = Static<typeof RosterEntrySchema>;

/**
 * The meeting's media key: 32 random bytes (base64) that clients encrypt
 * their media frames with, so the modules that forward them cannot read them.
 * `id` grows by one at each rotation; frames name the id of their key.
 */
export const MediaKeySchema = Type.Object({ id: Type.Integer({ minimum: 1 }), key: Type.String({ minLength: 44, maxLength: 44 }) });
export type MediaKey = Static<typeof MediaKeySchema>;

/** The hello was accepted: the meeting, who is here (this participant included), and the media key. */
export const WelcomeMessage = Type.Object({
  type: Type.Literal('welcome'),
  participantId: Id,
  meeting: Type.Object({
    id: Id,
    topic: Type.String(),
    /** cloud-hybrid: this is the cloud meeting server; internal-only: the meeting's module (its top holds the room). */
    mode: Type.Union([Type.Literal('cloud-hybrid'), Type.Literal('internal-only')]),
    e2ee: Type.Boolean(),
    /** Internal-only: the module holding the room (the meeting's top). */
    top: Type.Optional(Id),
    /** Internal-only: what the meeting does when its top dies (docs/failover.md). */
    onTopLoss: Type.Optional(Type.Union([Type.Literal('recover'), Type.Literal('collapse')])),
  }),
  roster: Type.Array(RosterEntrySchema),
  /**
   * Only when the meeting has E2EE on: the current media key. It is rotated
   * (a `media-key` message) when a host removes someone, so the removed
   * participant cannot decrypt what follows.
   */
  mediaKey: Type.Optional(MediaKeySchema),
  you: Type.Object({ isHost: Type.Boolean() }),
});

export const MeetingParticipantJoinedMessage = Type.Object({ type: Type.Literal('participant-joined'), participant: RosterEntrySchema });
/** A participant's entry changed (mute, hand, media attachment, name, or a reconnect from another session): the whole new entry. */
export const MeetingParticipantUpdatedMessage = Type.Object({ type: Type.Literal('participant-updated'), participant: RosterEntrySchema });

export const LeaveReasonSchema = Type.Union([
  /** Sent `leave`, or closed its socket. */
  Type.Literal('left'),
  /** Its connection died: no pong to the server's ping. */
  Type.Literal('disconnected'),
  /** A host removed it. */
  Type.Literal('removed'),
]);
export type LeaveReason = Static<typeof LeaveReasonSchema>;
export const MeetingParticipantLeftMessage = Type.Object({ type: Type.Literal('participant-left'), participantId: Id, reason: LeaveReasonSchema });

/** A chat message: to everyone, or (`to`) to one participant; the sender gets its own back. */
export const ChatReceivedMessage = Type.Object({
  type: Type.Literal('chat'),
  from: Id,
  /** The sender's name when it was sent (the sender may have left since). */
  fromName: Type.String(),
  text: Type.String(),
  to: Type.Optional(Id),
  at: EpochMs,
});

/** A host muted everyone's audio: stop sending it (the participant may unmute later). */
export const MutedByHostMessage = Type.Object({ type: Type.Literal('muted-by-host'), by: Id });

/** A host removed this participant; the server closes the socket next. */
export const RemovedMessage = Type.Object({ type: Type.Literal('removed'), by: Id });

/** The meeting is over for everyone; the server closes the socket next. */
export const MeetingEndedMessage = Type.Object({
  type: Type.Literal('meeting-ended'),
  reason: Type.Literal('ended-by-host'),
  by: Id,
});

/** A new media key replaces the old one: a host removed a participant, who does not get it. */
export const MediaKeyMessage = Type.Object({
  type: Type.Literal('media-key'),
  mediaKey: MediaKeySchema,
  reason: Type.Literal('participant-removed'),
});

/** A refused message; when `fatal`, the server closes the socket after sending it. */
export const MeetingErrorMessage = Type.Object({
  type: Type.Literal('error'),
  code: Type.String(),
  message: Type.String(),
  fatal: Type.Boolean(),
});

export const MeetingServerMessageSchema = Type.Union([
  WelcomeMessage,
  MeetingParticipantJoinedMessage,
  MeetingParticipantUpdatedMessage,
  MeetingParticipantLeftMessage,
  ChatReceivedMessage,
  MutedByHostMessage,
  RemovedMessage,
  MeetingEndedMessage,
  MediaKeyMessage,
  MeetingErrorMessage,
]);
export type MeetingServerMessage = Static<typeof MeetingServerMessageSchema>;
export type MeetingServerMessageType = MeetingServerMessage['type'];
export type MeetingServerMessageOf<T extends MeetingServerMessageType> = Extract<MeetingServerMessage, { type: T }>;

/**
 * The client ↔ module media-session protocol: JSON messages over one
 * WebSocket per participant (docs/protocol.md, "Media session"). One
 * TypeBox definition per message gives both the JSON Schema that validates it
 * at the door and its static type.
 *
 * Negotiation is always offered by the client and answered by the module, so
 * there is never glare: when the module has more to send than the client has
 * receive slots, it asks for a renegotiation and the client offers again with
 * more receive-only transceivers. Audio uses a fixed number of slots (the N
 * loudest speakers); each video track a subscriber receives has its own slot.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const Id = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' });
/** SDP is text; 64 KiB is far above what one connection with dozens of m-lines needs. */
const Sdp = Type.String({ minLength: 1, maxLength: 65_536 });
const Quality = Type.Union([Type.Literal('SD'), Type.Literal('HD')]);
/** What a published track carries; screen share is separate from the camera. */
export const TrackSourceSchema = Type.Union([Type.Literal('microphone'), Type.Literal('camera'), Type.Literal('screen')]);
export type TrackSource = Static<typeof TrackSourceSchema>;
const Kind = Type.Union([Type.Literal('audio'), Type.Literal('video')]);

// ── Client → module ───────────────────────────────────────────────────────

/** First message: the signed join ticket from a ZCP. Anything else first is refused. */
export const JoinMessage = Type.Object(
  {
    type: Type.Literal('join'),
    ticket: Type.String({ minLength: 1, maxLength: 2048 }),
  },
  { additionalProperties: false },
);

/** A track the client sends, by the mid of its transceiver in the offer. */
export const PublicationSchema = Type.Object(
  {
    mid: Type.String({ minLength: 1, maxLength: 32 }),
    source: TrackSourceSchema,
  },
  { additionalProperties: false },
);

/**
 * An SDP offer: the first one after `joined`, and every later one (tracks
 * added or removed, more receive slots, ICE restart). `publications` names
 * every sending transceiver of the offer; a mid that sends but is not listed
 * is refused.
 */
export const OfferMessage = Type.Object(
  {
    type: Type.Literal('offer'),
    sdp: Sdp,
    publications: Type.Array(PublicationSchema, { maxItems: 8 }),
  },
  { additionalProperties: false },
);

/** A trickled ICE candidate of the client (optional: candidates may be in the offer). */
export const CandidateMessage = Type.Object(
  {
    type: Type.Literal('candidate'),
    candidate: Type.String({ maxLength: 1024 }),
    sdpMid: Type.Optional(Type.String({ maxLength: 32 })),
  },
  { additionalProperties: false },
);

/**
 * How the client wants to receive one published track: paused (gallery page
 * scrolled away, speaker view) and the quality it wants (SD or HD; the module
 * may send lower when the client's link is congested).
 */
export const SubscriptionMessage = Type.Object(
  {
    type: Type.Literal('subscription'),
    trackId: Id,
    paused: Type.Optional(Type.Boolean()),
    quality: Type.Optional(Quality),
  },
  { additionalProperties: false },
);

/** The client leaves; the module answers by closing the socket. */
export const LeaveMessage = Type.Object({ type: Type.Literal('leave') }, { additionalProperties: false });

export const ClientMessageSchema = Type.Union([JoinMessage, OfferMessage, CandidateMessage, SubscriptionMessage, LeaveMessage]);
export type ClientMessage = Static<typeof ClientMessageSchema>;
export type ClientMessageType = ClientMessage['type'];
export const CLIENT_MESSAGE_SCHEMAS: Readonly<Record<ClientMessageType, TSchema>> = {
  join: JoinMessage,
  offer: OfferMessage,
  candidate: CandidateMessage,
  subscription: SubscriptionMessage,
  leave: LeaveMessage,
};

// ── Module → client ───────────────────────────────────────────────────────

export const ParticipantInfoSchema = Type.Object({ participantId: Id, displayName: Type.String() });

export const TrackInfoSchema = Type.Object({
  trackId: Id,
  participantId: Id,
  source: TrackSourceSchema,
  kind: Kind,
  /** Simulcast layers the publisher sends (rids), lowest first; empty for a single layer. */
  layers: Type.Array(Type.String()),
});
export type TrackInfo = Static<typeof TrackInfoSchema>;

/** The ticket was accepted: who is here and what they publish. */
export const JoinedMessage = Type.Object({
  type: Type.Literal('joined'),
  meetingId: Id,
  participantId: Id,
  participants: Type.Array(ParticipantInfoSchema),
  tracks: Type.Array(TrackInfoSchema),
  /** Receive-only audio transceivers the client should offer: the N loudest speakers share them. */
  audioSlots: Type.Integer({ minimum: 0 }),
});

/**
 * What a receive slot (a mid of the client's offer) carries: a track id, or
 * null while it is free. Audio slots change owner as speakers change.
 */
export const SlotSchema = Type.Object({ mid: Type.String(), trackId: Type.Union([Id, Type.Null()]) });

export const AnswerMessage = Type.Object({
  type: Type.Literal('answer'),
  sdp: Type.String(),
  /** Track ids the module gave to the client's publications, by mid. */
  published: Type.Array(Type.Object({ mid: Type.String(), trackId: Id })),
  slots: Type.Array(SlotSchema),
});

/** The module has tracks to send and no free slot: offer again with this many receive slots. */
export const RenegotiateMessage = Type.Object({
  type: Type.Literal('renegotiate'),
  audioSlots: Type.Integer({ minimum: 0 }),
  videoSlots: Type.Integer({ minimum: 0 }),
});

export const SlotsMessage = Type.Object({ type: Type.Literal('slots'), slots: Type.Array(SlotSchema) });
export const ParticipantJoinedMessage = Type.Object({ type: Type.Literal('participant-joined'), participant: ParticipantInfoSchema });
export const ParticipantLeftMessage = Type.Object({ type: Type.Literal('participant-left'), participantId: Id });
export const TrackPublishedMessage = Type.Object({ type: Type.Literal('track-published'), track: TrackInfoSchema });
export const TrackUnpublishedMessage = Type.Object({ type: Type.Literal('track-unpublished'), trackId: Id });

/** The loudest participants, loudest first; `dominant` is the one a speaker view shows. */
export const SpeakersMessage = Type.Object({
  type: Type.Literal('speakers'),
  participantIds: Type.Array(Id),
  dominant: Type.Union([Id, Type.Null()]),
});

/** A refused message; when `fatal`, the module closes the socket after sending it. */
export const ErrorMessage = Type.Object({
  type: Type.Literal('error'),
  code: Type.String(),
  message: Type.String(),
  fatal: Type.Boolean(),
});

export const ServerMessageSchema = Type.Union([
  JoinedMessage,
  AnswerMessage,
  RenegotiateMessage,
  SlotsMessage,
  ParticipantJoinedMessage,
  ParticipantLeftMessage,
  TrackPublishedMessage,
  TrackUnpublishedMessage,
  SpeakersMessage,
  ErrorMessage,
]);
export type ServerMessage = Static<typeof ServerMessageSchema>;
export type ServerMessageOf<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

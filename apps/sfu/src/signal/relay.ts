/**
 * The meeting signaling of a participant whose module is not the top of its
 * internal-only meeting, relayed to the top over the Cascade service's
 * `Signal` stream (cascade.proto): one stream per participant session.
 *
 * - `RelayedRoom` (the participant's module): what the participant's session
 *   talks to instead of a room. The stream opens with `seat` (who the
 *   participant is: the module checked its ticket); the session's messages
 *   go as `client_json`, the room's come back as `server_json`; `end` from
 *   the top ends the session with the top's close code.
 * - `acceptSignalRelay` (the top): seats the relayed participant in the
 *   meeting's room and applies its messages, validating each again (the top
 *   trusts the modules of its organization with who a participant is, not
 *   with what it says).
 */
import type { ClientDuplexStream, ServerDuplexStream } from '@grpc/grpc-js';
import { MeetedgeError, MeetingId, ParticipantId, toErrorBody } from '@meetedge/core';
import { CLOSE_GOING_AWAY, CLOSE_NORMAL, CLOSE_POLICY, type Identity, type Room, type RoomMeeting, type Seat, type SignalRoom } from '@meetedge/meeting-room';
import { toGrpcError, type v1 } from '@meetedge/proto';
import type { Logger } from '@meetedge/service-kit';
import { decodeMeetingClientMessage, isMeetingServerMessage, type LeaveReason, type MeetingServerMessage } from '@meetedge/signaling';

/** Who a relayed participant is and what its module knows of the meeting. */
export interface SeatInfo {
  readonly identity: Identity;
  readonly meeting: RoomMeeting;
  /** The participant's module. */
  readonly serverId: string;
}

type SignalStream = ClientDuplexStream<v1.SignalRelay, v1.SignalRelay>;

export class RelayedRoom implements SignalRoom {
  readonly id: MeetingId;
  private readonly stream: SignalStream;
  private done = false;

  constructor(
    client: v1.CascadeClient,
    info: SeatInfo,
    private readonly seat: Seat,
    private readonly logger: Logger,
  ) {
    this.id = info.meeting.id;
    this.stream = client.signal();
    const { identity, meeting } = info;
    this.stream.write({
      kind: {
        $case: 'seat',
        value: {
          meetingId: meeting.id,
          participantId: identity.participantId,
          displayName: identity.displayName,
          isHost: identity.isHost,
          serverId: info.serverId,
          topic: meeting.topic,
          e2ee: meeting.e2ee,
        },
      },
    });
    this.stream.on('data', (message: v1.SignalRelay) => this.fromTop(message));
    this.stream.on('error', (err: Error) => this.lost(err));
    this.stream.on('end', () => this.lost(new Error('the top ended the stream')));
  }

  private fromTop(message: v1.SignalRelay): void {
    if (this.done) return;
    const kind = message.kind;
    if (kind?.$case === 'serverJson') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(kind.value);
      } catch {
        parsed = undefined;
      }
      // What reaches the participant is the protocol's, whoever sent it.
      if (isMeetingServerMessage(parsed)) this.seat.send(parsed);
      else this.logger.warn('a relayed message from the top is not of the protocol: dropped');
      return;
    }
    if (kind?.$case === 'end') {
      this.done = true;
      this.stream.end();
      this.seat.end(kind.value.code || CLOSE_NORMAL, kind.value.reason);
    }
  }

  /** The stream to the top broke (the top died or shut down): the participant is told to connect again. */
  private lost(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.logger.warn({ err: err.message }, 'signaling relay to the top lost');
    this.seat.send({ type: 'error', code: 'UNAVAILABLE', message: "the module holding this meeting's roster cannot be reached; connect again", fatal: true });
    this.seat.end(CLOSE_GOING_AWAY, 'top unreachable');
  }

  handle(_participantId: string, message: Parameters<SignalRoom['handle']>[1]): void {
    if (this.done) throw new MeetedgeError('UNAVAILABLE', "the module holding this meeting's roster cannot be reached; connect again");
    this.stream.write({ kind: { $case: 'clientJson', value: JSON.stringify(message) } });
  }

  leave(_participantId: string, seat: Seat, reason: Exclude<LeaveReason, 'removed'>): void {
    if (this.done || seat !== this.seat) return;
    this.done = true;
    this.stream.write({ kind: { $case: 'end', value: { code: 0, reason } } });
    this.stream.end();
  }
}

export interface SignalRelayHost {
  /**
   * The room a relayed participant joins, opened if need be, and the meeting as the top sees it.
   * @throws MeetedgeError FAILED_PRECONDITION when this module is not the meeting's top
   */
  room(meeting: RoomMeeting): { room: Room; view: RoomMeeting };
  readonly logger: Logger;
}

/** The top's side of the `Signal` stream. */
export function acceptSignalRelay(host: SignalRelayHost): (stream: ServerDuplexStream<v1.SignalRelay, v1.SignalRelay>) => void {
  return (stream) => {
    let room: Room | undefined;
    let participantId = '';
    let ended = false;
    const seat: Seat = {
      send: (message: MeetingServerMessage) => {
        if (!ended) stream.write({ kind: { $case: 'serverJson', value: JSON.stringify(message) } });
      },
      end: (code, reason) => {
        if (ended) return;
        ended = true;
        room = undefined;
        stream.write({ kind: { $case: 'end', value: { code, reason } } });
        stream.end();
      },
    };
    const left = (reason: Exclude<LeaveReason, 'removed'>) => {
      const was = room;
      room = undefined;
      was?.leave(participantId, seat, reason);
    };
    const refuseStream = (err: unknown) => {
      ended = true;
      stream.emit('error', toGrpcError(err));
    };
    stream.on('data', (message: v1.SignalRelay) => {
      if (ended) return;
      const kind = message.kind;
      if (!room) {
        if (kind?.$case !== 'seat') return refuseStream(new MeetedgeError('INVALID_ARGUMENT', 'the first message of a signaling relay must be seat'));
        try {
          const { identity, meeting } = seatFrom(kind.value);
          // The top's own view of the meeting (its ZCP's info) wins over the relaying module's.
          const opened = host.room(meeting);
          opened.room.join(identity, seat, opened.view);
          room = opened.room;
          participantId = identity.participantId;
        } catch (err) {
          // A refusal of the room (a removed participant) reaches the participant; a bad seat is the module's fault.
          if (err instanceof MeetedgeError && (err.code === 'FORBIDDEN' || err.code === 'UNAVAILABLE')) {
            seat.send({ type: 'error', code: err.code, message: err.message, fatal: true });
            seat.end(CLOSE_POLICY, err.code);
            return;
          }
          return refuseStream(err);
        }
        return;
      }
      if (kind?.$case === 'end') {
        left(kind.value.reason === 'disconnected' ? 'disconnected' : 'left');
        ended = true;
        stream.end();
        return;
      }
      if (kind?.$case !== 'clientJson') return;
      try {
        const decoded = decodeMeetingClientMessage(Buffer.from(kind.value, 'utf8'));
        if (decoded.type === 'hello' || decoded.type === 'leave') throw new MeetedgeError('INVALID_ARGUMENT', `${decoded.type} is the session's, not the room's`);
        room.handle(participantId, decoded);
      } catch (err) {
        const { code, message: text } = toErrorBody(err).body.error;
        if (code === 'INTERNAL') host.logger.error({ err }, 'relayed message failed');
        seat.send({ type: 'error', code, message: text, fatal: false });
      }
    });
    stream.on('end', () => {
      left('disconnected');
      if (!ended) {
        ended = true;
        stream.end();
      }
    });
    stream.on('error', () => left('disconnected'));
    stream.on('cancelled', () => left('disconnected'));
  };
}

/** A seat message → who joins and the meeting as the module knows it; INVALID_ARGUMENT naming what is wrong. */
function seatFrom(seat: v1.SignalSeat): { identity: Identity; meeting: RoomMeeting } {
  const field = <T>(name: string, parse: () => T): T => {
    try {
      return parse();
    } catch (err) {
      throw new MeetedgeError('INVALID_ARGUMENT', `seat.${name}: ${(err as Error).message}`);
    }
  };
  const meetingId = field('meeting_id', () => MeetingId(seat.meetingId));
  const participantId = field('participant_id', () => ParticipantId(seat.participantId));
  const name = seat.displayName;
  if (name.length < 1 || name.length > 64 || !/\S/.test(name)) throw new MeetedgeError('INVALID_ARGUMENT', 'seat.display_name must be 1-64 characters, not only spaces');
  if (seat.topic.length > 1024) throw new MeetedgeError('INVALID_ARGUMENT', 'seat.topic must be at most 1024 characters');
  return {
    identity: { participantId, displayName: name, kind: 'member', isHost: seat.isHost },
    meeting: { id: meetingId, topic: seat.topic, e2ee: seat.e2ee, mode: 'internal-only' },
  };
}

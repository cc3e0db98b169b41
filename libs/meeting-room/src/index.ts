export { CLOSE_GOING_AWAY, CLOSE_NORMAL, CLOSE_POLICY, Room, type Identity, type RoomMeeting, type RoomMessage, type Seat, type SignalRoom } from './room';
export { SignalSession, type Admission, type SessionHost, type SessionLogger, type SessionTimers, type SignalSocket } from './session';

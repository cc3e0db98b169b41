/// <reference lib="dom" />
/**
 * The meeting-signaling client (docs/protocol.md, "Meeting signaling") in a
 * browser, on the native WebSocket: the same API as the Node client
 * (`@meetedge/client`). The logic is ../meeting-signal.ts.
 */
import { MeetingSignalSession } from '../meeting-signal';

export interface MeetingSignalClientOptions {
  /** The meeting's signaling URL, as POST /v1/meetings/:id/join (or guest-join) gives it: `wss://…/v1/meetings/<id>/signal`. */
  url: string;
  /** An access token: a member's from POST /v1/sign-in, or a guest's from guest-join. */
  token: string;
  /** Give up connecting after this many ms. Default 10 000. */
  timeoutMs?: number;
}

export class MeetingSignalClient extends MeetingSignalSession {
  private constructor(socket: WebSocket) {
    super(socket);
  }

  /** Opens the signaling and says hello; resolves once the server welcomed this participant. Rejects with a MeetedgeError. */
  static async connect(options: MeetingSignalClientOptions): Promise<MeetingSignalClient> {
    const client = new MeetingSignalClient(new WebSocket(options.url));
    await client.start(options.token, options.timeoutMs);
    return client;
  }
}

/**
 * The meeting-signaling client (docs/protocol.md, "Meeting signaling") for
 * Node, on `ws`: the cloud meeting server's roster, chat, host actions and
 * media key for one participant. The logic is ../meeting-signal.ts, shared
 * with the browser client (../browser).
 */
import WebSocket from 'ws';
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
  private constructor(private readonly ws: WebSocket) {
    super(ws);
  }

  /** Opens the signaling and says hello; resolves once the server welcomed this participant. Rejects with a MeetedgeError. */
  static async connect(options: MeetingSignalClientOptions): Promise<MeetingSignalClient> {
    const client = new MeetingSignalClient(new WebSocket(options.url));
    await client.start(options.token, options.timeoutMs);
    return client;
  }

  /** Sends a raw frame, text or binary (for tests of the server's door). */
  override sendRaw(frame: string | Buffer): void {
    this.ws.send(frame);
  }
}

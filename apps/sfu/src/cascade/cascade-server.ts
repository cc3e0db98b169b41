/**
 * The module's cascade endpoint (cascade.proto, service Cascade): it answers
 * links other media servers open to it, and opens links to others. At most
 * one link per (meeting, pair of servers): opening one again replaces it.
 *
 * OpenLink carries the first offer; the opener then holds the link's Control
 * stream, whose first message is `attach`. Either side closing the stream (or
 * CloseLink) closes the link; a link whose media connection fails closes too.
 */
import { randomUUID } from 'node:crypto';
import {
  Metadata,
  Server,
  ServerCredentials,
  credentials,
  type ClientDuplexStream,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { linkScope } from '@meetedge/cascade';
import { MeetedgeError, MeetingId, ModuleId, type MeetingMode } from '@meetedge/core';
import { fromGrpcError, toGrpcError, v1 } from '@meetedge/proto';
import type { Logger } from '@meetedge/service-kit';
import type { RTCPeerConnection } from 'werift';
import type { MediaServer } from '../media/media-server';
import { CascadeLink, type LinkStats } from './link';

export interface CascadeServerOptions {
  /** This media server's module id. */
  readonly serverId: string;
  readonly zoneId: string;
  /** The mode a meeting gets when a link brings it here first (the cloud MMR: cloud-hybrid). */
  readonly defaultMode: MeetingMode;
  readonly media: MediaServer;
  /**
   * Builds a link's werift connection. The answerer's sits on the server's
   * shared media port; the opener's needs a socket of its own, because the
   * shared port tells connections apart by the remote address, and every
   * link between the same two servers has the same one.
   */
  readonly createPeer: (role: 'opener' | 'answerer') => RTCPeerConnection;
  readonly logger: Logger;
}

/** Where a link goes: the module id of the server and its Cascade endpoint ("host:port"). */
export interface LinkTarget {
  readonly serverId: string;
  readonly address: string;
}

const LINK_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

export class CascadeServer {
  private readonly grpc = new Server();
  private readonly links = new Map<string, CascadeLink>();
  /** Links this server opened, by meeting and target server. */
  private readonly opened = new Map<string, { link: CascadeLink; client: v1.CascadeClient; target: LinkTarget }>();
  private readonly logger: Logger;
  private port = 0;
  private closed = false;

  constructor(private readonly options: CascadeServerOptions) {
    this.logger = options.logger.child({ component: 'cascade' });
    this.grpc.addService(v1.CascadeService, this.service);
  }

  /** Binds the Cascade service; resolves to the bound port. */
  async listen(host: string, port: number): Promise<number> {
    this.port = await new Promise<number>((resolve, reject) =>
      this.grpc.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    return this.port;
  }

  get boundPort(): number {
    return this.port;
  }

  /** Every open link, both directions. */
  linkStats(): LinkStats[] {
    return [...this.links.values()].map((l) => l.stats());
  }

  private readonly service: v1.CascadeServer = {
    openLink: (call: ServerUnaryCall<v1.OpenLinkRequest, v1.OpenLinkResponse>, callback: sendUnaryData<v1.OpenLinkResponse>) => {
      this.answerLink(call.request).then(
        (response) => callback(null, response),
        (err: unknown) => callback(toGrpcError(err)),
      );
    },
    closeLink: (call: ServerUnaryCall<v1.CloseLinkRequest, v1.CloseLinkResponse>, callback: sendUnaryData<v1.CloseLinkResponse>) => {
      this.links.get(call.request.linkId)?.close(`closed by ${call.request.serverId || 'the other side'}`);
      callback(null, {});
    },
    control: (stream: ServerDuplexStream<v1.CascadeControl, v1.CascadeControl>) => this.acceptControl(stream),
    signal: (stream: ServerDuplexStream<v1.SignalRelay, v1.SignalRelay>) => {
      if (this.onSignal) return this.onSignal(stream);
      stream.emit('error', toGrpcError(new MeetedgeError('CONFLICT', 'this media server holds no meeting signaling')));
    },
  };

  /** Takes the `Signal` streams other modules open (the meeting signaling of internal-only meetings, apps/sfu/src/signal). */
  onSignal: ((stream: ServerDuplexStream<v1.SignalRelay, v1.SignalRelay>) => void) | undefined;

  private async answerLink(request: v1.OpenLinkRequest): Promise<v1.OpenLinkResponse> {
    if (this.closed) throw new MeetedgeError('UNAVAILABLE', 'this media server is shutting down');
    const meetingId = MeetingId(request.meetingId);
    const peerServerId = ModuleId(request.originServerId);
    if (!LINK_ID.test(request.linkId)) throw new MeetedgeError('INVALID_ARGUMENT', 'link_id must be 1-64 characters of letters, digits and _.:-');
    if (peerServerId === this.options.serverId) throw new MeetedgeError('INVALID_ARGUMENT', 'a server does not link to itself');
    const { media } = this.options;
    const meeting = media.existingMeeting(meetingId) ?? media.meeting(meetingId, this.options.defaultMode);
    // One link per meeting and pair of servers: a new one replaces the old.
    for (const link of this.links.values()) {
      if (link.meeting === meeting && link.peerServerId === peerServerId) link.close('replaced by a newer link');
    }
    const link = this.track(
      new CascadeLink({
        linkId: request.linkId,
        role: 'answerer',
        meeting,
        serverId: this.options.serverId,
        peerServerId,
        // The media server's role (edge or cloud MMR) and the meeting's mode decide whether the link's media leaves the network.
        scope: linkScope(media.role, meeting.mode),
        pc: this.options.createPeer('answerer'),
        logger: this.logger,
      }),
    );
    const sdpAnswer = await link.answer(request.sdpOffer);
    this.logger.info({ meetingId, linkId: link.linkId, peerServerId }, 'cascade link answered');
    return { linkId: link.linkId, serverId: this.options.serverId, sdpAnswer };
  }

  private acceptControl(stream: ServerDuplexStream<v1.CascadeControl, v1.CascadeControl>): void {
    let link: CascadeLink | undefined;
    stream.on('data', (message: v1.CascadeControl) => {
      if (link) return link.onControl(message);
      const attach = message.kind?.$case === 'attach' ? message.kind.value : undefined;
      const found = attach ? this.links.get(attach.linkId) : undefined;
      if (!found || found.role !== 'answerer' || found.peerServerId !== attach?.serverId) {
        stream.emit('error', toGrpcError(new MeetedgeError('INVALID_ARGUMENT', 'the first control message must attach to a link opened by its sender')));
        return;
      }
      link = found;
      link.attachControl((m) => stream.write(m));
    });
    const end = () => link?.close('control stream ended');
    stream.on('end', () => {
      end();
      stream.end();
    });
    stream.on('error', end);
    stream.on('cancelled', end);
  }

  /** Keeps a link in the table until it closes; the meeting ends when it was its last tie here. */
  private track(link: CascadeLink): CascadeLink {
    this.links.set(link.linkId, link);
    link.meeting.addLink(link);
    link.whenClosed((closed) => {
      if (this.links.get(closed.linkId) === closed) this.links.delete(closed.linkId);
      this.options.media.endIfIdle(closed.meeting);
    });
    return link;
  }

  /**
   * Opens (or keeps) this server's link for a meeting to a target server;
   * idempotent: a link to the same target is kept, to another one replaced.
   * `onClosed` is told when the link closes, with why.
   */
  async ensureLink(meetingId: MeetingId, target: LinkTarget, onClosed?: (reason: string) => void): Promise<LinkStats> {
    const key = `${meetingId}|${target.serverId}`;
    const existing = this.opened.get(key);
    if (existing && !existing.link.closed && existing.target.address === target.address) {
      if (onClosed) existing.link.whenClosed((closed) => onClosed(closed.closeReason ?? ''));
      return existing.link.stats();
    }
    existing?.link.close('replaced');
    for (const [otherKey, other] of this.opened) {
      if (otherKey.startsWith(`${meetingId}|`) && otherKey !== key) {
        other.link.close('the meeting links elsewhere now');
      }
    }
    const meeting = this.options.media.existingMeeting(meetingId);
    if (!meeting) throw new MeetedgeError('NOT_FOUND', `meeting ${meetingId} is not on this module`);
    const client = new v1.CascadeClient(target.address, credentials.createInsecure());
    const link = this.track(
      new CascadeLink({
        linkId: randomUUID(),
        role: 'opener',
        meeting,
        serverId: this.options.serverId,
        peerServerId: target.serverId,
        scope: linkScope(this.options.media.role, meeting.mode),
        pc: this.options.createPeer('opener'),
        logger: this.logger,
      }),
    );
    this.opened.set(key, { link, client, target });
    let control: ClientDuplexStream<v1.CascadeControl, v1.CascadeControl> | undefined;
    try {
      await link.start(async (sdpOffer) => {
        const response = await new Promise<v1.OpenLinkResponse>((resolve, reject) =>
          client.openLink(
            { meetingId, linkId: link.linkId, originServerId: this.options.serverId, originZoneId: this.options.zoneId, sdpOffer },
            new Metadata(),
            { deadline: Date.now() + 10_000 },
            (err, answer) => (err ? reject(fromGrpcError(err)) : resolve(answer)),
          ),
        );
        // The answerer knows the link now: its control channel can attach.
        const stream = client.control();
        control = stream;
        stream.write({ kind: { $case: 'attach', value: { linkId: link.linkId, meetingId, serverId: this.options.serverId } } });
        stream.on('data', (m: v1.CascadeControl) => link.onControl(m));
        stream.on('error', () => link.close('control stream failed'));
        stream.on('end', () => link.close('control stream ended'));
        link.attachControl((m) => stream.write(m));
        return response.sdpAnswer;
      });
    } catch (err) {
      link.close(`could not open: ${(err as Error).message}`);
      this.hangUp(client, control, link.linkId, meetingId);
      this.opened.delete(key);
      throw err;
    }
    // At once when the link closed while it was being opened (e.g. its last participant left meanwhile).
    link.whenClosed(() => {
      this.hangUp(client, control, link.linkId, meetingId);
      if (this.opened.get(key)?.link === link) this.opened.delete(key);
    });
    if (onClosed) link.whenClosed((closed) => onClosed(closed.closeReason ?? ''));
    this.logger.info({ meetingId, linkId: link.linkId, target }, 'cascade link opened');
    return link.stats();
  }

  /**
   * Ends the far side of a link this server opened: the control stream's end
   * closes it there; a link whose control stream never attached is closed
   * with CloseLink, so the answerer does not keep it (and its meeting).
   */
  private hangUp(client: v1.CascadeClient, control: ClientDuplexStream<v1.CascadeControl, v1.CascadeControl> | undefined, linkId: string, meetingId: MeetingId): void {
    if (control) {
      control.cancel();
      client.close();
      return;
    }
    client.closeLink({ linkId, meetingId, serverId: this.options.serverId, reason: v1.CloseReason.FAILED }, new Metadata(), { deadline: Date.now() + 2000 }, () => client.close());
  }

  /** Closes this server's link for a meeting (a need ended). Idempotent. */
  closeLinks(meetingId: MeetingId, reason: string): number {
    let closed = 0;
    for (const [key, entry] of this.opened) {
      if (!key.startsWith(`${meetingId}|`)) continue;
      entry.link.close(reason);
      closed++;
    }
    return closed;
  }

  /** True once the service is shutting down. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Closes every link and stops the service. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of [...this.links.values()]) link.close('media server shutting down');
    await Promise.race([new Promise<void>((resolve) => this.grpc.tryShutdown(() => resolve())), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    this.grpc.forceShutdown();
  }
}

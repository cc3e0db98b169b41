/**
 * The cloud zone controller (libs/proto zone_controller.proto), the gRPC
 * service ZCPs call: what a zone needs to place a participant of a meeting,
 * and the stream of cascade needs of the zone. Errors cross the door once, as
 * coded gRPC errors (toGrpcError).
 */
import type { sendUnaryData, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { CascadeNeedChange, CascadeNeeds, CascadeReason } from '@meetedge/cascade';
import { MeetedgeError, MeetingId, ZcpId, ZoneId } from '@meetedge/core';
import type { Directory, Meeting } from '@meetedge/directory';
import { qualityToProto, toGrpcError, v1 } from '@meetedge/proto';
import type { Logger } from '@meetedge/service-kit';

export interface ZoneControllerOptions {
  directory: Directory;
  needs: CascadeNeeds;
  /** The cloud MMR that is the top of every cloud-hybrid meeting, and its Cascade service ("host:port"). */
  cloudMmrId: string;
  cloudMmrCascadeAddress: string;
  /** The control plane's public URL (the meeting server's signaling is under it). */
  publicUrl: string;
  logger: Logger;
}

const REASONS: Record<CascadeReason, v1.CascadeReason> = {
  'remote-participant': v1.CascadeReason.REMOTE_PARTICIPANT,
  'other-module': v1.CascadeReason.OTHER_MODULE,
};

function signalingUrl(meeting: Meeting, publicUrl: string): string {
  const url = new URL(`/v1/meetings/${meeting.id}/signal`, publicUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

export function zoneControllerService(options: ZoneControllerOptions): v1.ZoneControllerServer {
  const { directory, needs } = options;

  async function info(request: v1.GetMeetingServerInfoRequest): Promise<v1.MeetingServerInfo> {
    const meetingId = MeetingId(request.meetingId);
    const zoneId = ZoneId(request.zoneId);
    ZcpId(request.zcpId);
    const meeting = await directory.getMeeting(meetingId);
    if (!meeting) throw new MeetedgeError('NOT_FOUND', `no meeting ${meetingId}`);
    const zone = await directory.getZone(zoneId);
    // A zone of another account (or none) may not host the meeting; the answer does not say which.
    if (!zone || zone.accountId !== meeting.accountId) throw new MeetedgeError('FORBIDDEN', `zone ${zoneId} may not host meeting ${meetingId}`);
    const hybrid = meeting.mode === 'cloud-hybrid';
    return {
      meetingId: meeting.id,
      mode: hybrid ? v1.MeetingMode.CLOUD_HYBRID : v1.MeetingMode.INTERNAL_ONLY,
      e2ee: meeting.e2ee,
      defaultQuality: qualityToProto(meeting.defaultQuality),
      cloudMmrId: hybrid ? options.cloudMmrId : '',
      cloudMmrAddress: hybrid ? options.cloudMmrCascadeAddress : '',
      cloudSignalingUrl: hybrid ? signalingUrl(meeting, options.publicUrl) : '',
      accountId: meeting.accountId,
      hostUserId: meeting.hostId,
      topic: meeting.topic,
      onTopLoss: meeting.onTopLoss === 'collapse' ? v1.TopLossPolicy.COLLAPSE : v1.TopLossPolicy.RECOVER,
    };
  }

  return {
    getMeetingServerInfo(
      call: ServerUnaryCall<v1.GetMeetingServerInfoRequest, v1.GetMeetingServerInfoResponse>,
      callback: sendUnaryData<v1.GetMeetingServerInfoResponse>,
    ) {
      info(call.request).then(
        (value) => callback(null, { info: value }),
        (err: unknown) => callback(toGrpcError(err)),
      );
    },

    watchCascadeNeeds(call: ServerWritableStream<v1.WatchCascadeNeedsRequest, v1.CascadeNeedEvent>) {
      let zoneId: ZoneId;
      try {
        zoneId = ZoneId(call.request.zoneId);
        ZcpId(call.request.zcpId);
      } catch (err) {
        call.emit('error', toGrpcError(err));
        return;
      }
      const log = options.logger.child({ zoneId, zcpId: call.request.zcpId });
      let seq = 0;
      const send = (kind: v1.CascadeNeedEvent['kind']) => call.write({ seq: ++seq, kind });
      const toEvent = (change: CascadeNeedChange): v1.CascadeNeedEvent['kind'] =>
        change.type === 'needed'
          ? {
              $case: 'needed',
              value: { meetingId: change.meetingId, targetServerId: options.cloudMmrId, targetAddress: options.cloudMmrCascadeAddress, reason: REASONS[change.reason] },
            }
          : { $case: 'ended', value: { meetingId: change.meetingId } };
      // Replay and subscription happen in one synchronous step: no change falls between them.
      const replay = needs.current(zoneId);
      for (const need of replay) send(toEvent({ type: 'needed', ...need }));
      send({ $case: 'synced', value: { replayed: replay.length } });
      const unwatch = needs.watch(zoneId, (change) => send(toEvent(change)));
      log.info({ replayed: replay.length }, 'zone watching cascade needs');
      let stopped = false;
      const stop = () => {
        if (stopped) return;
        stopped = true;
        unwatch();
        log.info('zone stopped watching cascade needs');
      };
      call.once('cancelled', stop);
      call.once('close', stop);
    },
  };
}

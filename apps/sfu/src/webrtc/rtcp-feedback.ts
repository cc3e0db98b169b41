import {
  FullIntraRequest,
  ReceiverEstimatedMaxBitrate,
  RtcpPayloadSpecificFeedback,
  type RTCRtpReceiver,
} from 'werift';

// werift parses REMB and FIR but never sends them: these build and send them
// through the connection's SRTCP transport (RTCDtlsTransport.sendRtcp).

/** REMB's bitrate field: an 18-bit mantissa and a 6-bit exponent (bitrate = mantissa · 2^exponent, rounded down). */
export function rembBitrateFields(bitrate: number): { mantissa: number; exponent: number } {
  if (!Number.isFinite(bitrate) || bitrate < 0) throw new RangeError(`REMB bitrate must be a finite number ≥ 0, got ${bitrate}`);
  let mantissa = Math.floor(bitrate);
  let exponent = 0;
  while (mantissa > 0x3ffff) {
    mantissa = Math.floor(mantissa / 2);
    exponent++;
  }
  return { mantissa, exponent };
}

/**
 * A REMB packet (draft-alvestrand-rmcat-remb): the most the sender of
 * `mediaSsrcs` should send in total, in bits per second.
 */
export function createRemb(options: { senderSsrc: number; mediaSsrcs: readonly number[]; bitrate: number }): RtcpPayloadSpecificFeedback {
  const { mantissa, exponent } = rembBitrateFields(options.bitrate);
  return new RtcpPayloadSpecificFeedback({
    feedback: new ReceiverEstimatedMaxBitrate({
      senderSsrc: options.senderSsrc,
      mediaSsrc: 0, // unused by REMB
      ssrcNum: options.mediaSsrcs.length,
      brExp: exponent,
      brMantissa: mantissa,
      bitrate: BigInt(mantissa) << BigInt(exponent),
      ssrcFeedbacks: [...options.mediaSsrcs],
    }),
  });
}

/** Sends a REMB for the remote streams `mediaSsrcs` received by `receiver`; `bitrate` in bits per second. */
export async function sendRemb(receiver: RTCRtpReceiver, mediaSsrcs: readonly number[], bitrate: number): Promise<void> {
  await receiver.dtlsTransport.sendRtcp([createRemb({ senderSsrc: receiver.rtcpSsrc, mediaSsrcs, bitrate })]);
}

/** A FIR (RFC 5104 §4.3.1) asking the sender of `mediaSsrc` for a keyframe; `sequenceNumber` (0–255) increases per new request. */
export function createFir(options: { senderSsrc: number; mediaSsrc: number; sequenceNumber: number }): RtcpPayloadSpecificFeedback {
  return new RtcpPayloadSpecificFeedback({
    feedback: new FullIntraRequest({
      senderSsrc: options.senderSsrc,
      mediaSsrc: 0, // RFC 5104: the media sources are in the FCI entries
      fir: [{ ssrc: options.mediaSsrc, sequenceNumber: options.sequenceNumber & 0xff }],
    }),
  });
}

/** Sends a FIR for the remote stream `mediaSsrc` received by `receiver`. */
export async function sendFir(receiver: RTCRtpReceiver, mediaSsrc: number, sequenceNumber: number): Promise<void> {
  await receiver.dtlsTransport.sendRtcp([createFir({ senderSsrc: receiver.rtcpSsrc, mediaSsrc, sequenceNumber })]);
}

// Just enough STUN (RFC 8489) to demultiplex a shared UDP port: tell STUN from
// DTLS/SRTP (RFC 7983) and read the USERNAME of an ICE Binding request.

const HEADER_LENGTH = 20;
const MAGIC_COOKIE = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const ATTRIBUTE_USERNAME = 0x0006;

/** True for a packet that is a DTLS record: first byte 20–63 (RFC 7983 §7). */
export function isDtls(packet: Buffer): boolean {
  const first = packet[0];
  return first !== undefined && first >= 20 && first <= 63;
}

/** True for a datagram that is a STUN message (first byte 0–3 and the magic cookie). */
export function isStun(datagram: Buffer): boolean {
  return datagram.length >= HEADER_LENGTH && datagram.readUInt8(0) < 4 && datagram.readUInt32BE(4) === MAGIC_COOKIE;
}

/**
 * The username fragment an ICE Binding request is addressed to, or undefined
 * for anything else (other STUN classes, DTLS, SRTP, garbage). USERNAME is
 * "<receiver's ufrag>:<sender's ufrag>" (RFC 8445 §7.2.2), so the part before
 * the colon is the ufrag of the local agent the request is meant for.
 */
export function bindingRequestUfrag(datagram: Buffer): string | undefined {
  if (!isStun(datagram) || datagram.readUInt16BE(0) !== BINDING_REQUEST) return undefined;
  const end = Math.min(datagram.length, HEADER_LENGTH + datagram.readUInt16BE(2));
  let offset = HEADER_LENGTH;
  while (offset + 4 <= end) {
    const type = datagram.readUInt16BE(offset);
    const length = datagram.readUInt16BE(offset + 2);
    const valueStart = offset + 4;
    if (valueStart + length > end) return undefined;
    if (type === ATTRIBUTE_USERNAME) {
      const username = datagram.toString('utf8', valueStart, valueStart + length);
      const colon = username.indexOf(':');
      return colon > 0 ? username.slice(0, colon) : undefined;
    }
    // Attribute values are padded to a multiple of 4 bytes.
    offset = valueStart + length + ((4 - (length % 4)) % 4);
  }
  return undefined;
}

import { Message, classes, methods } from 'werift';
import { bindingRequestUfrag, isDtls, isStun } from './stun';

function bindingRequest(username: string): Buffer {
  const message = new Message(methods.BINDING, classes.REQUEST);
  message.setAttribute('PRIORITY', 123).setAttribute('USERNAME', username);
  message.addMessageIntegrity(Buffer.from('password')).addFingerprint();
  return message.bytes;
}

describe('stun', () => {
  it('reads the local ufrag of a Binding request, whatever precedes USERNAME', () => {
    expect(bindingRequestUfrag(bindingRequest('ours:theirs'))).toBe('ours');
    expect(bindingRequestUfrag(bindingRequest('0123456789abcdef:x'))).toBe('0123456789abcdef');
  });

  it('ignores responses, DTLS, RTP and malformed messages', () => {
    const response = new Message(methods.BINDING, classes.RESPONSE).setAttribute('USERNAME', 'ours:theirs').bytes;
    expect(isStun(response)).toBe(true);
    expect(bindingRequestUfrag(response)).toBeUndefined();
    expect(isStun(Buffer.from([22, 254, 253, ...new Array(30).fill(0)]))).toBe(false); // DTLS record
    expect(bindingRequestUfrag(Buffer.from([0x80, 0x60, ...new Array(30).fill(0)]))).toBeUndefined(); // RTP
    expect(bindingRequestUfrag(bindingRequest('no-colon').subarray(0, 20))).toBeUndefined();
    const truncated = bindingRequest('ours:theirs').subarray(0, 30); // declared length exceeds the datagram
    expect(bindingRequestUfrag(truncated)).toBeUndefined();
    expect(bindingRequestUfrag(bindingRequest(':theirs'))).toBeUndefined();
  });

  it('tells DTLS records from STUN, RTP and nothing (RFC 7983)', () => {
    expect(isDtls(Buffer.from([22, 254, 253]))).toBe(true); // handshake
    expect(isDtls(Buffer.from([20]))).toBe(true); // change cipher spec
    expect(isDtls(bindingRequest('ours:theirs'))).toBe(false);
    expect(isDtls(Buffer.from([0x80, 0x60]))).toBe(false); // RTP
    expect(isDtls(Buffer.alloc(0))).toBe(false);
  });
});

import { offererReceives, offererSends, scanOffer } from './sdp';

const offer = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1 2 3',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'a=mid:0',
  'a=sendonly',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'a=mid:1',
  'a=sendonly',
  'a=rid:q send',
  'a=rid:h send',
  'a=rid:f send',
  'a=simulcast:send q;h;f',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'a=mid:2',
  'a=recvonly',
  'm=audio 0 UDP/TLS/RTP/SAVPF 111',
  'a=mid:3',
  'a=recvonly',
  '',
].join('\r\n');

describe('scanOffer', () => {
  it('reads kind, mid, direction, rejection and simulcast rids of each section', () => {
    const sections = scanOffer(offer);
    expect(sections).toEqual([
      { kind: 'audio', mid: '0', direction: 'sendonly', rejected: false, sendRids: [] },
      { kind: 'video', mid: '1', direction: 'sendonly', rejected: false, sendRids: ['q', 'h', 'f'] },
      { kind: 'video', mid: '2', direction: 'recvonly', rejected: false, sendRids: [] },
      { kind: 'audio', mid: '3', direction: 'recvonly', rejected: true, sendRids: [] },
    ]);
    expect(sections.map(offererSends)).toEqual([true, true, false, false]);
    expect(sections.map(offererReceives)).toEqual([false, false, true, false]);
  });

  it.each([
    ['text that is not SDP', 'hello', 'invalid SDP: must start with "v=0"'],
    ['no media', 'v=0\r\ns=-\r\n', 'invalid SDP: has no media sections'],
    ['a section without mid', 'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n', 'invalid SDP: an m=audio section has no a=mid'],
    ['a duplicate mid', 'v=0\r\nm=audio 9 X 1\r\na=mid:0\r\nm=video 9 X 1\r\na=mid:0\r\n', 'invalid SDP: mid "0" appears twice'],
    ['an unknown media', 'v=0\r\nm=text 9 X 1\r\na=mid:0\r\n', 'invalid SDP: unsupported media "text"'],
    ['a malformed m-line', 'v=0\r\nm=audio nine\r\na=mid:0\r\n', 'invalid SDP: malformed line "m=audio nine"'],
  ])('refuses %s', (_what, sdp, message) => {
    expect(() => scanOffer(sdp)).toThrow(message);
  });
});

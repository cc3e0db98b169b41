// A minimal media-session client (docs/protocol.md) on the browser's own
// RTCPeerConnection: the test harness of browser.spec.ts. The client always
// offers (after gathering its candidates, so no trickle); the module answers.
// The test drives it through window.meetedge.

/* global window, document, navigator, WebSocket, RTCPeerConnection */

const SIMULCAST = [
  { rid: 'q', scaleResolutionDownBy: 4 },
  { rid: 'h', scaleResolutionDownBy: 2 },
  { rid: 'f' },
];

class Session {
  constructor(url) {
    this.ws = new WebSocket(url);
    this.pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: 'max-bundle' });
    this.publications = []; // { transceiver, source }
    this.slots = new Map(); // mid -> trackId | null
    this.joined = undefined;
    this.log = []; // every message from the module, for the test's report on failure
    this.waiters = [];
    this.negotiation = Promise.resolve();
    this.ws.onmessage = (event) => this.onMessage(JSON.parse(event.data));
    this.pc.ontrack = (event) => {
      if (event.track.kind !== 'video') return;
      const video = document.createElement('video');
      video.muted = true;
      video.autoplay = true;
      video.playsInline = true;
      video.dataset.mid = event.transceiver.mid;
      video.srcObject = new window.MediaStream([event.track]);
      document.body.append(video);
    };
  }

  /** Resolves with the next message of `type` from the module (an `error` rejects). */
  next(type) {
    return new Promise((resolve, reject) => this.waiters.push({ type, resolve, reject }));
  }

  onMessage(message) {
    this.log.push(message);
    if (message.type === 'joined') this.joined = message;
    if (message.type === 'answer' || message.type === 'slots') {
      for (const { mid, trackId } of message.slots) this.slots.set(mid, trackId);
    }
    if (message.type === 'renegotiate') {
      void this.addSlots(message.audioSlots, message.videoSlots).catch(() => undefined);
    }
    for (const waiter of [...this.waiters]) {
      if (waiter.type === message.type || message.type === 'error') {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        if (message.type === 'error') waiter.reject(new Error(`${message.code}: ${message.message}`));
        else waiter.resolve(message);
      }
    }
  }

  send(message) {
    this.ws.send(JSON.stringify(message));
  }

  async join(ticket) {
    await new Promise((resolve, reject) => {
      this.ws.onopen = resolve;
      this.ws.onerror = () => reject(new Error('WebSocket failed'));
    });
    const joined = this.next('joined');
    this.send({ type: 'join', ticket });
    return joined;
  }

  /** Publishes the (fake) camera with three simulcast layers; resolves with the module's track id. */
  async publishCamera() {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 15 } },
    });
    const [track] = stream.getVideoTracks();
    const transceiver = this.pc.addTransceiver(track, { direction: 'sendonly', sendEncodings: SIMULCAST });
    this.publications.push({ transceiver, source: 'camera' });
    const answer = await this.negotiate();
    return answer.published.find((p) => p.mid === transceiver.mid).trackId;
  }

  /** Receive slots for what the meeting has now: the audio slots and one per other video track. */
  async receive() {
    const videos = this.joined.tracks.filter((t) => t.kind === 'video' && t.participantId !== this.joined.participantId).length;
    await this.addSlots(this.joined.audioSlots, videos);
  }

  async addSlots(audio, video) {
    const count = (kind) => this.pc.getTransceivers().filter((t) => t.direction === 'recvonly' && t.receiver.track.kind === kind).length;
    for (let i = count('audio'); i < audio; i++) this.pc.addTransceiver('audio', { direction: 'recvonly' });
    for (let i = count('video'); i < video; i++) this.pc.addTransceiver('video', { direction: 'recvonly' });
    return this.negotiate();
  }

  /** One offer/answer exchange at a time. */
  negotiate() {
    const run = this.negotiation.then(() => this.exchange());
    this.negotiation = run.catch(() => undefined);
    return run;
  }

  async exchange() {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await this.gathered();
    const publications = this.publications.map((p) => ({ mid: p.transceiver.mid, source: p.source }));
    const answered = this.next('answer');
    this.send({ type: 'offer', sdp: this.pc.localDescription.sdp, publications });
    const answer = await answered;
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    return answer;
  }

  gathered() {
    if (this.pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      this.pc.addEventListener('icegatheringstatechange', () => {
        if (this.pc.iceGatheringState === 'complete') resolve();
      });
    });
  }

  setSubscription(trackId, options) {
    this.send({ type: 'subscription', trackId, ...options });
  }

  /** The inbound-rtp (received) and outbound-rtp (sent, one per rid) video stats. */
  async videoStats() {
    const inbound = [];
    const outbound = [];
    (await this.pc.getStats()).forEach((s) => {
      if (s.kind !== 'video') return;
      if (s.type === 'inbound-rtp') {
        inbound.push({ mid: s.mid, framesDecoded: s.framesDecoded ?? 0, frameHeight: s.frameHeight ?? 0, frameWidth: s.frameWidth ?? 0, keyFramesDecoded: s.keyFramesDecoded ?? 0, bytesReceived: s.bytesReceived });
      }
      if (s.type === 'outbound-rtp') {
        outbound.push({ rid: s.rid, active: s.active, frameHeight: s.frameHeight ?? 0, framesEncoded: s.framesEncoded ?? 0, bytesSent: s.bytesSent, targetBitrate: s.targetBitrate, qualityLimitationReason: s.qualityLimitationReason });
      }
    });
    return { inbound, outbound, connectionState: this.pc.connectionState };
  }

  close() {
    this.pc.close();
    this.ws.close();
  }
}

window.meetedge = {
  session: undefined,
  async join(url, ticket) {
    this.session = new Session(url);
    return this.session.join(ticket);
  },
};

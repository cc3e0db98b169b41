import type { RTCPeerConnection } from 'werift';

/** Longest wait for a connection's own ICE candidates before answering or offering anyway, ms. */
export const GATHER_TIMEOUT_MS = 2000;

/** Resolves once `pc` has gathered its candidates (they are then in its local description), or after `timeoutMs`. */
export async function gathered(pc: RTCPeerConnection, timeoutMs = GATHER_TIMEOUT_MS): Promise<void> {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    const { unSubscribe } = pc.iceGatheringStateChange.subscribe((state) => {
      if (state === 'complete') done();
    });
    function done(): void {
      clearTimeout(timer);
      unSubscribe();
      resolve();
    }
  });
}

/// <reference lib="dom" />
/**
 * The browser entry of the client SDK (`@meetedge/client/browser`): the
 * media-session client on the native RTCPeerConnection. A page loads it as
 * an esbuild bundle (docs/protocol.md, "Client SDK").
 */
export { MediaClient, type MediaClientEvents, type MediaClientOptions, type Publication, type RemoteTrack } from './media-client';
export { MeetedgeError } from '@meetedge/core';

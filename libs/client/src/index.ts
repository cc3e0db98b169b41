/**
 * The client SDK, Node entry (`@meetedge/client`): the media-session client
 * on werift. The browser entry is `@meetedge/client/browser` (./browser);
 * both share the session logic of ./session.ts.
 */
export { MediaClient, type MediaClientEvents, type MediaClientOptions, type Publication, type RemoteTrack } from './node/media-client';

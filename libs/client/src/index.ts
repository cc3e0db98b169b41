export { MediaClient, type MediaClientEvents, type MediaClientOptions, type RemoteTrack } from './media-client';

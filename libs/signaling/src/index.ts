export * from './media-session';
export * from './codec';
export * from './meeting-signal';
export * from './meeting-codec';

export * from './media-session';
export * from './codec';

export { isHostPort, needEventFromProto, sameNeed, setCascadeCommand, type CascadeNeed, type CascadeNeedChange, type CascadeReason, type NeedEvent } from './need';
export { CascadeNeedsWatcher, type CascadeNeedListener, type CascadeNeedsView, type CascadeNeedsWatcherOptions } from './needs-watcher';
export { CascadeRelay, type CascadeRelayOptions } from './relay';

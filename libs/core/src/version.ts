/** meetedge's release, reported by every service's /healthz and module registration. */
export const MEETEDGE_VERSION = '0.1.0';

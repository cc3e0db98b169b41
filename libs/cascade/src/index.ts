/**
 * The cascade's rules, with no I/O (STYLE.md: "The cascade is its own
 * package"; docs/cascade.md): which zones of a cloud-hybrid meeting need a
 * link to the cloud MMR, the scope of a link, the origin tags that keep a
 * relayed stream from looping, and who takes over an internal-only meeting
 * whose top died. The links themselves (werift, gRPC) are apps/sfu's
 * src/cascade; the ZCP and the cloud zone controller carry the needs.
 */
export { CascadeNeeds, needsOf, type Attachment, type CascadeNeedChange, type CascadeReason } from './needs';
export { mayCross, mayEnter, pathOnward, streamKey, type LinkEnd, type StreamOrigin } from './origin';
export { LINK_SCOPES, linkScope, type LinkScope, type ServerRole } from './scope';
export { electTop, type ModuleLoad } from './top';

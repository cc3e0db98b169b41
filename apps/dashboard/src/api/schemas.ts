/**
 * The REST API's schemas (TypeBox → JSON Schema): fastify validates every
 * request against them and serializes every response through them (so a field
 * not in a response schema, e.g. a password hash, can never leave), and
 * @fastify/swagger publishes them as the OpenAPI document at /docs.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const ID = { pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', minLength: 1, maxLength: 64 };

export const IdParams = Type.Object({ id: Type.String({ ...ID, description: 'record id' }) }, { additionalProperties: false });

export const ErrorReply = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'machine-readable code, e.g. INVALID_ARGUMENT, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND' }),
      message: Type.String({ description: 'what was wrong, for a person' }),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { $id: 'Error', title: 'Error' },
);

const Email = Type.String({ format: 'email', maxLength: 254, description: 'sign-in address (case-insensitive)' });
const Password = Type.String({ minLength: 10, maxLength: 256, description: '10–256 characters' });
const DisplayName = Type.String({ minLength: 1, maxLength: 64, pattern: '\\S' });
const Role = Type.Union([Type.Literal('admin'), Type.Literal('member')]);
const EpochMs = Type.Integer({ minimum: 0, description: 'ms since the epoch' });

export const User = Type.Object(
  {
    id: Type.String(),
    accountId: Type.String(),
    email: Type.String(),
    displayName: Type.String(),
    role: Role,
    createdAt: EpochMs,
  },
  { $id: 'User', title: 'User', additionalProperties: false },
);

export const Account = Type.Object(
  { id: Type.String(), name: Type.String(), createdAt: EpochMs },
  { $id: 'Account', title: 'Account', additionalProperties: false },
);

export const SignInBody = Type.Object({ email: Email, password: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false });

export const SignedIn = Type.Object(
  {
    accessToken: Type.String({ description: 'JWT (EdDSA); send as `Authorization: Bearer <token>`' }),
    expiresAt: EpochMs,
    user: Type.Ref(User),
  },
  { $id: 'SignedIn', title: 'SignedIn' },
);

export const NewAccountBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 128, pattern: '\\S', description: 'the company' }),
    admin: Type.Object({ email: Email, displayName: DisplayName, password: Password }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);

export const AccountCreated = Type.Object({
  account: Type.Ref(Account),
  accessToken: Type.String(),
  expiresAt: EpochMs,
  user: Type.Ref(User),
});

export const NewUserBody = Type.Object(
  { email: Email, displayName: DisplayName, password: Password, role: Type.Optional(Role) },
  { additionalProperties: false },
);

export const UserPatchBody = Type.Object(
  { displayName: Type.Optional(DisplayName), role: Type.Optional(Role), password: Type.Optional(Password) },
  { additionalProperties: false, minProperties: 1 },
);

const Mode = Type.Union([Type.Literal('cloud-hybrid'), Type.Literal('internal-only')], {
  description: 'cloud-hybrid: signaling in the cloud, media on modules when possible; internal-only: nothing leaves the network',
});
const Quality = Type.Union([Type.Literal('SD'), Type.Literal('HD')]);
const Passcode = Type.String({ pattern: '^[0-9]{4,10}$', description: '4–10 digits a guest gives to join' });
const OnTopLoss = Type.Union([Type.Literal('recover'), Type.Literal('collapse')], {
  description: 'internal-only: when the top module dies, elect a new one (recover) or end the meeting (collapse)',
});

export const Meeting = Type.Object(
  {
    id: Type.String(),
    accountId: Type.String(),
    topic: Type.String(),
    mode: Mode,
    e2ee: Type.Boolean(),
    defaultQuality: Quality,
    hasPasscode: Type.Boolean({ description: 'the passcode itself is shown only to the host and admins' }),
    passcode: Type.Optional(Passcode),
    hostId: Type.String(),
    startsAt: Type.Optional(EpochMs),
    durationMinutes: Type.Integer(),
    onTopLoss: OnTopLoss,
    createdAt: EpochMs,
    updatedAt: EpochMs,
    version: Type.Integer({ description: 'send it back as If-Match to update only what you read' }),
  },
  { $id: 'Meeting', title: 'Meeting', additionalProperties: false },
);

const Topic = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });
const Duration = Type.Integer({ minimum: 1, maximum: 24 * 60 });

export const NewMeetingBody = Type.Object(
  {
    topic: Topic,
    mode: Mode,
    e2ee: Type.Optional(Type.Boolean()),
    defaultQuality: Type.Optional(Quality),
    passcode: Type.Optional(Passcode),
    hostId: Type.Optional(Type.String(ID)),
    startsAt: Type.Optional(EpochMs),
    durationMinutes: Type.Optional(Duration),
    onTopLoss: Type.Optional(OnTopLoss),
  },
  { additionalProperties: false },
);

export const MeetingPatchBody = Type.Object(
  {
    topic: Type.Optional(Topic),
    mode: Type.Optional(Mode),
    e2ee: Type.Optional(Type.Boolean()),
    defaultQuality: Type.Optional(Quality),
    passcode: Type.Optional(Type.Union([Passcode, Type.Null()], { description: 'null removes it' })),
    hostId: Type.Optional(Type.String(ID)),
    startsAt: Type.Optional(EpochMs),
    durationMinutes: Type.Optional(Duration),
    onTopLoss: Type.Optional(OnTopLoss),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(Type.String({ pattern: '^"?[0-9]{1,9}"?$', description: 'the version you read; a different current version is a 409' })),
});

const Name = Type.String({ minLength: 1, maxLength: 128, pattern: '\\S' });

export const Zone = Type.Object(
  { id: Type.String(), accountId: Type.String(), name: Type.String(), createdAt: EpochMs },
  { $id: 'Zone', title: 'Zone', description: 'a location (a building, a data center)', additionalProperties: false },
);
export const NewZoneBody = Type.Object(
  {
    name: Name,
    id: Type.Optional(Type.String({ ...ID, description: "the id the zone's ZCPs and modules are configured with (MEETEDGE_ZONE_ID), e.g. hq; made up when absent" })),
  },
  { additionalProperties: false },
);

export const Node = Type.Object(
  { id: Type.String(), accountId: Type.String(), zoneId: Type.String(), name: Type.String(), address: Type.String(), createdAt: EpochMs },
  { $id: 'Node', title: 'Node', description: 'a server in a zone; it runs up to 4 modules', additionalProperties: false },
);
export const NewNodeBody = Type.Object(
  { name: Name, address: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:-]+$', description: 'IP address or host name' }) },
  { additionalProperties: false },
);

const ModuleKind = Type.Union([Type.Literal('sfu'), Type.Literal('zcp')]);
export const ModuleAssignment = Type.Object(
  {
    id: Type.String(),
    accountId: Type.String(),
    nodeId: Type.String(),
    zoneId: Type.String(),
    kind: ModuleKind,
    url: Type.Optional(Type.String()),
    createdAt: EpochMs,
  },
  { $id: 'Module', title: 'Module', additionalProperties: false },
);
export const NewModuleBody = Type.Object(
  {
    id: Type.String({ ...ID, description: "the module's MEETEDGE_MODULE_ID (sfu) or MEETEDGE_ZCP_ID (zcp)" }),
    kind: ModuleKind,
    url: Type.Optional(Type.String({ format: 'uri', maxLength: 512, description: "a ZCP's join API base URL (http/https), given to clients; a module's media-session URL (ws/wss)" })),
  },
  { additionalProperties: false },
);

export const JoinInfo = Type.Object(
  {
    meetingId: Type.String(),
    topic: Type.String(),
    mode: Mode,
    e2ee: Type.Boolean(),
    defaultQuality: Quality,
    signalingUrl: Type.Optional(Type.String({ description: "cloud-hybrid: the cloud meeting server's WebSocket" })),
    cloudMmrUrl: Type.Optional(Type.String({ description: 'cloud-hybrid: the cloud MMR, the last resort for media' })),
    zones: Type.Array(
      Type.Object({ id: Type.String(), name: Type.String(), zcpUrls: Type.Array(Type.String()) }),
      { description: 'zones this participant may use (none for guests); probe them and ask a ZCP of the nearest' },
    ),
    accessToken: Type.Optional(Type.String({ description: "a guest's token, good for this meeting only" })),
    expiresAt: Type.Optional(EpochMs),
  },
  { $id: 'JoinInfo', title: 'JoinInfo', additionalProperties: false },
);
export const GuestJoinBody = Type.Object(
  { displayName: DisplayName, passcode: Type.Optional(Type.String({ maxLength: 32 })) },
  { additionalProperties: false },
);

/** Replies for a route: its success schema plus the coded error for every 4xx/5xx it can give. */
export function replies<S extends TSchema>(status: 200 | 201, schema: S, errors: readonly number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = { [status]: schema };
  for (const code of errors) out[code] = Type.Ref(ErrorReply);
  return out;
}

export const NoContent = Type.Null({ description: 'done' });

export type SignInBodyT = Static<typeof SignInBody>;
export type NewAccountBodyT = Static<typeof NewAccountBody>;
export type NewUserBodyT = Static<typeof NewUserBody>;
export type UserPatchBodyT = Static<typeof UserPatchBody>;
export type NewMeetingBodyT = Static<typeof NewMeetingBody>;
export type MeetingPatchBodyT = Static<typeof MeetingPatchBody>;
export type IdParamsT = Static<typeof IdParams>;
export type NewZoneBodyT = Static<typeof NewZoneBody>;
export type NewNodeBodyT = Static<typeof NewNodeBody>;
export type NewModuleBodyT = Static<typeof NewModuleBody>;
export type GuestJoinBodyT = Static<typeof GuestJoinBody>;
export type IfMatchHeadersT = Static<typeof IfMatchHeaders>;

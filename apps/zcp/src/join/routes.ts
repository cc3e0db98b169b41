/**
 * The join API of a ZCP: `POST /v1/assign` (docs/zcp.md). A client that got
 * this zone from the control plane sends its access token and the meeting; it
 * gets the media URL to open and a signed join ticket for it.
 */
import type { KeyObject } from 'node:crypto';
import { MeetingId, ModuleId, bearerClaims } from '@meetedge/core';
import { errorBodySchema } from '@meetedge/service-kit';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Assigner } from './assigner';

const ID = { pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', minLength: 1, maxLength: 64 };

export const AssignBody = Type.Object(
  {
    meetingId: Type.String({ ...ID, description: 'the meeting to join' }),
    quality: Type.Union([Type.Literal('SD'), Type.Literal('HD')], { description: 'video quality to reserve: SD = 1 unit, HD = 2' }),
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '\\S', description: 'default: the token\'s display name' })),
    excludeModuleIds: Type.Optional(
      Type.Array(Type.String(ID), { maxItems: 32, uniqueItems: true, description: 'modules not to propose (e.g. unreachable from the client)' }),
    ),
  },
  { additionalProperties: false },
);
export type AssignBodyT = Static<typeof AssignBody>;

export const AssignReply = Type.Object(
  {
    mode: Type.Union([Type.Literal('cloud-hybrid'), Type.Literal('internal-only')]),
    cloud: Type.Boolean({ description: 'true: the zone had no room, media goes to the cloud MMR' }),
    moduleId: Type.String(),
    mediaUrl: Type.String({ description: 'the media-session WebSocket to open' }),
    ticket: Type.String({ description: 'join ticket: send it in the media session\'s join message' }),
    expiresAt: Type.Integer({ description: 'the ticket is refused from then on, ms since the epoch' }),
  },
  { additionalProperties: false },
);

const AuthHeaders = Type.Object({ authorization: Type.Optional(Type.String()) });

export interface JoinRoutesOptions {
  readonly assigner: Assigner;
  /** The control plane's public key: verifies access tokens. */
  readonly tokenPublicKey: KeyObject;
  readonly now: () => number;
}

export function registerJoinRoutes(http: FastifyInstance, options: JoinRoutesOptions): void {
  http.post<{ Body: AssignBodyT; Headers: Static<typeof AuthHeaders> }>(
    '/v1/assign',
    {
      schema: {
        headers: AuthHeaders,
        body: AssignBody,
        response: { 200: AssignReply, '4xx': errorBodySchema, '5xx': errorBodySchema },
      },
    },
    async (request) => {
      const claims = bearerClaims(request.headers.authorization, options.tokenPublicKey, options.now());
      const body = request.body;
      return options.assigner.assign(claims, {
        meetingId: MeetingId(body.meetingId),
        quality: body.quality,
        ...(body.displayName === undefined ? {} : { displayName: body.displayName }),
        ...(body.excludeModuleIds === undefined ? {} : { excludeModuleIds: body.excludeModuleIds.map(ModuleId) }),
      });
    },
  );
}

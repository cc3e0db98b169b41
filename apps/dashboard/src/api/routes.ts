/**
 * The control plane's REST API (docs/control-plane.md): thin routes over
 * ControlPlane, each with a schema for its body, params and every reply.
 */
import type { KeyObject } from 'node:crypto';
import { MeetedgeError, bearerClaims, type MemberClaims } from '@meetedge/core';
import type { Meeting as MeetingRecord } from '@meetedge/directory';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../control-plane';
import {
  Account,
  AccountCreated,
  ErrorReply,
  GuestJoinBody,
  JoinInfo,
  ModuleAssignment,
  NewModuleBody,
  NewNodeBody,
  NewZoneBody,
  Node,
  Zone,
  type GuestJoinBodyT,
  type NewModuleBodyT,
  type NewNodeBodyT,
  type NewZoneBodyT,
  IdParams,
  IfMatchHeaders,
  Meeting,
  MeetingPatchBody,
  NewAccountBody,
  NewMeetingBody,
  NewUserBody,
  NoContent,
  SignInBody,
  SignedIn,
  User,
  UserPatchBody,
  replies,
  type IdParamsT,
  type IfMatchHeadersT,
  type MeetingPatchBodyT,
  type NewAccountBodyT,
  type NewMeetingBodyT,
  type NewUserBodyT,
  type SignInBodyT,
  type UserPatchBodyT,
} from './schemas';

export interface ApiOptions {
  controlPlane: ControlPlane;
  /** Verifies access tokens (the public half of the signing key). */
  tokenPublicKey: KeyObject;
  now?: () => number;
}

const security = [{ bearer: [] }];

/** The signed-in member a request acts for; UNAUTHENTICATED/FORBIDDEN otherwise. */
function memberOf(request: FastifyRequest, options: ApiOptions): MemberClaims {
  const claims = bearerClaims(request.headers.authorization, options.tokenPublicKey, (options.now ?? Date.now)());
  if (claims.kind !== 'member') throw new MeetedgeError('FORBIDDEN', 'a guest token is good for joining its meeting only');
  return claims;
}

/** The meeting as its viewer may see it: the passcode only for the host and admins. */
function meetingView(meeting: MeetingRecord, viewer: MemberClaims): Record<string, unknown> {
  const { passcode, ...rest } = meeting;
  const maySeePasscode = viewer.role === 'admin' || viewer.userId === meeting.hostId;
  return { ...rest, hasPasscode: passcode !== undefined, ...(maySeePasscode && passcode !== undefined ? { passcode } : {}) };
}

/** The version an If-Match header names, if any. */
function expectedVersion(headers: IfMatchHeadersT): number | undefined {
  const value = headers['if-match'];
  return value === undefined ? undefined : Number(value.replaceAll('"', ''));
}

export function registerApi(app: FastifyInstance, options: ApiOptions): void {
  const cp = options.controlPlane;
  const member = (request: FastifyRequest) => memberOf(request, options);
  app.addSchema(ErrorReply);
  app.addSchema(User);
  app.addSchema(Account);
  app.addSchema(Meeting);
  app.addSchema(SignedIn);
  app.addSchema(Zone);
  app.addSchema(Node);
  app.addSchema(ModuleAssignment);
  app.addSchema(JoinInfo);

  app.post<{ Body: SignInBodyT }>(
    '/v1/sign-in',
    {
      schema: {
        tags: ['sign-in'],
        summary: 'Sign in with e-mail and password; returns an access token',
        body: SignInBody,
        response: replies(200, Type.Ref('SignedIn'), [400, 401, 429]),
      },
    },
    async (request) => cp.signIn(request.body.email, request.body.password, request.ip),
  );

  app.post<{ Body: NewAccountBodyT }>(
    '/v1/accounts',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Create an account (a company) with its first admin, signed in (when sign-up is open)',
        body: NewAccountBody,
        response: replies(201, AccountCreated, [400, 403, 409]),
      },
    },
    async (request, reply) => {
      void reply.status(201);
      return cp.createAccount(request.body);
    },
  );

  app.get(
    '/v1/account',
    { schema: { tags: ['accounts'], summary: 'Your account', security, response: replies(200, Type.Ref('Account'), [401, 403, 404]) } },
    async (request) => cp.account(member(request)),
  );

  app.get(
    '/v1/users',
    { schema: { tags: ['users'], summary: "Your account's users", security, response: replies(200, Type.Array(Type.Ref('User')), [401, 403]) } },
    async (request) => cp.listUsers(member(request)),
  );

  app.post<{ Body: NewUserBodyT }>(
    '/v1/users',
    {
      schema: { tags: ['users'], summary: 'Add a user to your account (admins)', security, body: NewUserBody, response: replies(201, Type.Ref('User'), [400, 401, 403, 409]) },
    },
    async (request, reply) => {
      void reply.status(201);
      return cp.addUser(member(request), { ...request.body, role: request.body.role ?? 'member' });
    },
  );

  app.get<{ Params: IdParamsT }>(
    '/v1/users/:id',
    { schema: { tags: ['users'], summary: 'A user of your account', security, params: IdParams, response: replies(200, Type.Ref('User'), [400, 401, 403, 404]) } },
    async (request) => cp.user(member(request), request.params.id),
  );

  app.patch<{ Params: IdParamsT; Body: UserPatchBodyT }>(
    '/v1/users/:id',
    {
      schema: {
        tags: ['users'],
        summary: 'Change a name or role (admins), or your own name and password',
        security,
        params: IdParams,
        body: UserPatchBody,
        response: replies(200, Type.Ref('User'), [400, 401, 403, 404, 409]),
      },
    },
    async (request) => cp.updateUser(member(request), request.params.id, request.body),
  );

  app.delete<{ Params: IdParamsT }>(
    '/v1/users/:id',
    { schema: { tags: ['users'], summary: 'Remove a user (admins)', security, params: IdParams, response: replies(200, NoContent, [400, 401, 403, 404, 409]) } },
    async (request) => {
      await cp.deleteUser(member(request), request.params.id);
      return null;
    },
  );

  app.get(
    '/v1/meetings',
    { schema: { tags: ['meetings'], summary: "Your account's meetings", security, response: replies(200, Type.Array(Type.Ref('Meeting')), [401, 403]) } },
    async (request) => {
      const viewer = member(request);
      return (await cp.listMeetings(viewer)).map((m) => meetingView(m, viewer));
    },
  );

  app.post<{ Body: NewMeetingBodyT }>(
    '/v1/meetings',
    {
      schema: { tags: ['meetings'], summary: 'Schedule a meeting (you host it unless hostId says)', security, body: NewMeetingBody, response: replies(201, Type.Ref('Meeting'), [400, 401, 403, 404]) },
    },
    async (request, reply) => {
      const viewer = member(request);
      void reply.status(201);
      return meetingView(await cp.scheduleMeeting(viewer, request.body), viewer);
    },
  );

  app.get<{ Params: IdParamsT }>(
    '/v1/meetings/:id',
    { schema: { tags: ['meetings'], summary: 'A meeting of your account', security, params: IdParams, response: replies(200, Type.Ref('Meeting'), [400, 401, 403, 404]) } },
    async (request) => {
      const viewer = member(request);
      return meetingView(await cp.meeting(viewer, request.params.id), viewer);
    },
  );

  app.patch<{ Params: IdParamsT; Body: MeetingPatchBodyT; Headers: IfMatchHeadersT }>(
    '/v1/meetings/:id',
    {
      schema: {
        tags: ['meetings'],
        summary: 'Edit a meeting (its host or an admin); If-Match: <version> refuses to overwrite a newer edit',
        security,
        params: IdParams,
        headers: IfMatchHeaders,
        body: MeetingPatchBody,
        response: replies(200, Type.Ref('Meeting'), [400, 401, 403, 404, 409]),
      },
    },
    async (request) => {
      const viewer = member(request);
      return meetingView(await cp.updateMeeting(viewer, request.params.id, request.body, expectedVersion(request.headers)), viewer);
    },
  );

  app.delete<{ Params: IdParamsT }>(
    '/v1/meetings/:id',
    { schema: { tags: ['meetings'], summary: 'Delete a meeting (its host or an admin)', security, params: IdParams, response: replies(200, NoContent, [400, 401, 403, 404]) } },
    async (request) => {
      await cp.deleteMeeting(member(request), request.params.id);
      return null;
    },
  );

  // ── Zones, nodes, modules (admins change them; members read them) ─────

  app.get(
    '/v1/zones',
    { schema: { tags: ['zones'], summary: "Your account's zones", security, response: replies(200, Type.Array(Type.Ref('Zone')), [401, 403]) } },
    async (request) => cp.listZones(member(request)),
  );

  app.post<{ Body: NewZoneBodyT }>(
    '/v1/zones',
    { schema: { tags: ['zones'], summary: 'Add a zone (admins)', security, body: NewZoneBody, response: replies(201, Type.Ref('Zone'), [400, 401, 403]) } },
    async (request, reply) => {
      void reply.status(201);
      return cp.createZone(member(request), request.body);
    },
  );

  app.get<{ Params: IdParamsT }>(
    '/v1/zones/:id',
    { schema: { tags: ['zones'], summary: 'A zone', security, params: IdParams, response: replies(200, Type.Ref('Zone'), [400, 401, 403, 404]) } },
    async (request) => cp.zone(member(request), request.params.id),
  );

  app.delete<{ Params: IdParamsT }>(
    '/v1/zones/:id',
    { schema: { tags: ['zones'], summary: 'Remove a zone without nodes (admins)', security, params: IdParams, response: replies(200, NoContent, [400, 401, 403, 404, 409]) } },
    async (request) => {
      await cp.deleteZone(member(request), request.params.id);
      return null;
    },
  );

  app.get<{ Params: IdParamsT }>(
    '/v1/zones/:id/nodes',
    { schema: { tags: ['zones'], summary: "A zone's nodes", security, params: IdParams, response: replies(200, Type.Array(Type.Ref('Node')), [400, 401, 403, 404]) } },
    async (request) => cp.listNodes(member(request), request.params.id),
  );

  app.post<{ Params: IdParamsT; Body: NewNodeBodyT }>(
    '/v1/zones/:id/nodes',
    { schema: { tags: ['zones'], summary: 'Add a node to a zone (admins)', security, params: IdParams, body: NewNodeBody, response: replies(201, Type.Ref('Node'), [400, 401, 403, 404]) } },
    async (request, reply) => {
      void reply.status(201);
      return cp.createNode(member(request), request.params.id, request.body);
    },
  );

  app.delete<{ Params: IdParamsT }>(
    '/v1/nodes/:id',
    { schema: { tags: ['zones'], summary: 'Remove a node without modules (admins)', security, params: IdParams, response: replies(200, NoContent, [400, 401, 403, 404, 409]) } },
    async (request) => {
      await cp.deleteNode(member(request), request.params.id);
      return null;
    },
  );

  app.get<{ Params: IdParamsT }>(
    '/v1/nodes/:id/modules',
    { schema: { tags: ['zones'], summary: "A node's modules", security, params: IdParams, response: replies(200, Type.Array(Type.Ref('Module')), [400, 401, 403, 404]) } },
    async (request) => cp.listModules(member(request), request.params.id),
  );

  app.post<{ Params: IdParamsT; Body: NewModuleBodyT }>(
    '/v1/nodes/:id/modules',
    {
      schema: {
        tags: ['zones'],
        summary: 'Assign a module (sfu or zcp) to a node (admins); at most 4 per node',
        security,
        params: IdParams,
        body: NewModuleBody,
        response: replies(201, Type.Ref('Module'), [400, 401, 403, 404, 409]),
      },
    },
    async (request, reply) => {
      void reply.status(201);
      return cp.assignModule(member(request), request.params.id, request.body);
    },
  );

  app.delete<{ Params: IdParamsT }>(
    '/v1/modules/:id',
    { schema: { tags: ['zones'], summary: 'Remove a module (admins)', security, params: IdParams, response: replies(200, NoContent, [400, 401, 403, 404]) } },
    async (request) => {
      await cp.removeModule(member(request), request.params.id);
      return null;
    },
  );

  // ── Joining ──────────────────────────────────────────────────────────

  app.post<{ Params: IdParamsT }>(
    '/v1/meetings/:id/join',
    {
      schema: {
        tags: ['join'],
        summary: "Join a meeting of your account: its mode, the cloud side (cloud-hybrid) and your account's zones with their ZCPs",
        security,
        params: IdParams,
        response: replies(200, Type.Ref('JoinInfo'), [400, 401, 403, 404]),
      },
    },
    async (request) => cp.join(member(request), request.params.id),
  );

  app.post<{ Params: IdParamsT; Body: GuestJoinBodyT }>(
    '/v1/meetings/:id/guest-join',
    {
      schema: {
        tags: ['join'],
        summary: 'Join a cloud-hybrid meeting as a guest with its passcode and a name: a guest token and the cloud side, no zones',
        params: IdParams,
        body: GuestJoinBody,
        response: replies(200, Type.Ref('JoinInfo'), [400, 401, 403, 404, 429]),
      },
    },
    async (request) => cp.guestJoin(request.params.id, request.body, request.ip),
  );
}

/**
 * Admin HTTP routes of module registration: drain a module of the zone.
 */
import type { KeyObject } from 'node:crypto';
import { MeetedgeError, ModuleId, bearerClaims } from '@meetedge/core';
import type { FastifyInstance } from 'fastify';
import type { ModuleRegistry } from './module-registry';

const drainBody = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    /** Why, for logs and for what clients are told. */
    reason: { type: 'string', maxLength: 200 },
    /** When the module should be empty, Unix ms; 0 or absent: no deadline. */
    deadlineUnixMs: { type: 'integer', minimum: 0 },
  },
} as const;

/**
 * `POST /v1/zone/modules/:id/drain`: the state marks the module draining (no
 * ZCP places anyone new on it) and, when it is connected to this ZCP, the
 * module is told to refuse new joins. 404 for a module that is not live in
 * this zone. Only an admin (an access token of the control plane with the
 * admin role) may drain.
 */
export function registerRegistryRoutes(
  http: FastifyInstance,
  registry: ModuleRegistry,
  auth: { tokenPublicKey: KeyObject; now: () => number },
): void {
  http.post<{ Params: { id: string }; Body: { reason?: string; deadlineUnixMs?: number } | null }>(
    '/v1/zone/modules/:id/drain',
    {
      schema: {
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
        body: drainBody,
        response: {
          200: {
            type: 'object',
            required: ['moduleId', 'draining', 'notified'],
            properties: { moduleId: { type: 'string' }, draining: { type: 'boolean' }, notified: { type: 'boolean' } },
          },
        },
      },
    },
    async (request) => {
      const claims = bearerClaims(request.headers.authorization, auth.tokenPublicKey, auth.now());
      if (claims.kind !== 'member' || claims.role !== 'admin') throw new MeetedgeError('FORBIDDEN', 'only an admin may drain a module');
      const moduleId = ModuleId(request.params.id);
      const reason = request.body?.reason ?? 'operator';
      const { notified } = await registry.drain(moduleId, { reason, deadlineUnixMs: request.body?.deadlineUnixMs ?? 0 });
      return { moduleId, draining: true, notified };
    },
  );
}

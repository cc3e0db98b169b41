/**
 * Admin HTTP routes of module registration: drain a module of the zone.
 */
import { ModuleId } from '@meetedge/core';
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
 * this zone.
 */
export function registerRegistryRoutes(http: FastifyInstance, registry: ModuleRegistry): void {
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
      const moduleId = ModuleId(request.params.id);
      const reason = request.body?.reason ?? 'operator';
      const { notified } = await registry.drain(moduleId, { reason, deadlineUnixMs: request.body?.deadlineUnixMs ?? 0 });
      return { moduleId, draining: true, notified };
    },
  );
}

/**
 * What every signaling door does with a raw WebSocket frame before it trusts
 * it: refuse it when too large, not JSON, not an object, of no known `type`,
 * or against its type's schema, with a coded error that names the problem
 * (the first schema violation with its path). Validators are compiled once
 * (TypeBox's TypeCompiler), so checking a message costs microseconds.
 */
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { MeetedgeError } from '@meetedge/core';

/**
 * A decoder for the messages of one protocol.
 * @param schemas the schema of each message, by its `type`
 * @param maxBytes largest frame accepted, bytes (checked before parsing)
 * @returns a function that returns a valid message or throws `MeetedgeError('INVALID_ARGUMENT')`
 */
export function frameDecoder<M extends { type: string }>(
  schemas: Readonly<Record<M['type'], TSchema>>,
  maxBytes: number,
): (frame: string | Buffer) => M {
  const checks = new Map<string, TypeCheck<TSchema>>(Object.entries<TSchema>(schemas).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]));
  const known = [...checks.keys()].join(', ');
  return (frame) => {
    const length = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length;
    if (length > maxBytes) {
      throw new MeetedgeError('INVALID_ARGUMENT', `message of ${length} bytes exceeds ${maxBytes}`);
    }
    let value: unknown;
    try {
      value = JSON.parse(typeof frame === 'string' ? frame : frame.toString('utf8'));
    } catch {
      throw new MeetedgeError('INVALID_ARGUMENT', 'message is not valid JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new MeetedgeError('INVALID_ARGUMENT', 'message must be a JSON object');
    }
    const type = (value as { type?: unknown }).type;
    const check = typeof type === 'string' ? checks.get(type) : undefined;
    if (!check) {
      throw new MeetedgeError('INVALID_ARGUMENT', `unknown message type ${JSON.stringify(type)}; expected one of ${known}`);
    }
    if (!check.Check(value)) {
      const first = check.Errors(value).First();
      const where = first?.path ? first.path : '/';
      throw new MeetedgeError('INVALID_ARGUMENT', `${String(type)}: ${where} ${first?.message ?? 'is invalid'}`);
    }
    return value as M;
  };
}

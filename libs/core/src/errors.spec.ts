import { ERROR_CODES, MeetedgeError, toErrorBody } from './errors';
import { parseQuality, unitsFor } from './capacity';

describe('MeetedgeError', () => {
  it('carries the HTTP and gRPC status of its code', () => {
    const err = new MeetedgeError('CAPACITY_EXCEEDED', 'module sfu-1 is full');
    expect(err.httpStatus).toBe(503);
    expect(err.grpcStatus).toBe(8); // RESOURCE_EXHAUSTED
    expect(new MeetedgeError('NOT_FOUND', 'x').httpStatus).toBe(404);
  });

  it('every code maps to a 4xx/5xx HTTP status and a non-OK gRPC status', () => {
    for (const [code, { http, grpc }] of Object.entries(ERROR_CODES)) {
      expect([code, http >= 400 && http < 600]).toEqual([code, true]);
      expect([code, grpc > 0 && grpc <= 16]).toEqual([code, true]);
    }
  });
});

describe('toErrorBody', () => {
  it('keeps the code, message and details of a coded error', () => {
    const out = toErrorBody(new MeetedgeError('FORBIDDEN', 'not a member of account a-1', { accountId: 'a-1' }));
    expect(out).toEqual({
      status: 403,
      grpcStatus: 7,
      body: { error: { code: 'FORBIDDEN', message: 'not a member of account a-1', details: { accountId: 'a-1' } } },
    });
  });

  it.each([
    ['UNAVAILABLE', 'redis is not reachable: connect ECONNREFUSED 10.1.2.3:6379', 'a service this request needs is unavailable; try again'],
    ['INTERNAL', 'invariant broken in slot 7', 'internal error'],
  ] as const)('hides the message and details of %s', (code, message, shown) => {
    const out = toErrorBody(new MeetedgeError(code, message, { host: '10.1.2.3' }));
    expect(out.body).toEqual({ error: { code, message: shown } });
    expect(JSON.stringify(out)).not.toContain('10.1.2.3');
  });

  it('hides everything of an unexpected error', () => {
    const out = toErrorBody(new TypeError('cannot read secretKey of undefined'));
    expect(out.status).toBe(500);
    expect(out.body).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
    expect(JSON.stringify(out)).not.toContain('secretKey');
  });
});

describe('capacity units', () => {
  it('SD costs 1 unit and HD 2', () => {
    expect(unitsFor('SD')).toBe(1);
    expect(unitsFor('HD')).toBe(2);
  });

  it('parses only SD and HD', () => {
    expect(parseQuality('HD')).toBe('HD');
    expect(() => parseQuality('4K')).toThrow(/quality must be "SD" or "HD", got "4K"/);
    expect(() => parseQuality('hd')).toThrow(MeetedgeError);
  });
});

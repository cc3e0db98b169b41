import { latencySummary, parsePlacementArgs } from './placement';
import { machineTicksOfProcStat, promHistogram, promHistogramDelta, promPercentileBound } from './stats';

describe('placement scenario', () => {
  it('takes its options as "--name value" and "--name=value" (nx forwards the second), with the issue\'s defaults', () => {
    expect(parsePlacementArgs(['--scenario', 'placement'])).toEqual({
      joins: 1000,
      concurrency: [1, 8, 32, 128],
      meetings: 40,
      modules: 3,
      capacityUnits: 400,
      rounds: 3,
      warmupJoins: 200,
      maxMinutes: 5,
      out: undefined,
    });
    const args = parsePlacementArgs(['--joins=500', '--concurrency', '4,16', '--out=tmp/p.json', '--warmup', '0']);
    expect([args.joins, args.concurrency, args.out, args.warmupJoins]).toEqual([500, [4, 16], 'tmp/p.json', 0]);
  });

  it('refuses a step that does not fit the zone, and numbers that are not counts', () => {
    expect(() => parsePlacementArgs(['--joins', '1201'])).toThrow('1201 SD joins do not fit 3 modules × 400 units');
    expect(parsePlacementArgs(['--joins', '1201', '--capacity', '401']).joins).toBe(1201);
    expect(() => parsePlacementArgs(['--concurrency', '1,x'])).toThrow('invalid number');
    expect(() => parsePlacementArgs(['--meetings', '1'])).toThrow('at least 2');
  });

  it('summarizes latencies by nearest rank', () => {
    const ms = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(latencySummary(ms)).toEqual({ p50: 50, p90: 90, p99: 99, max: 100, mean: 50.5 });
    expect(latencySummary([]).p50).toBeNaN();
  });
});

describe('/proc/stat and /metrics readings', () => {
  it('counts busy and total ticks of the machine', () => {
    const stat = 'cpu  100 5 50 1000 20 1 2 3 7 0\ncpu0 50 2 25 500 10 0 1 1 0 0\n';
    expect(machineTicksOfProcStat(stat)).toEqual({ busy: 161, total: 1181 });
  });

  const exposition = (n1: number, n5: number, nInf: number, sum: number) =>
    [
      '# TYPE meetedge_http_request_duration_seconds histogram',
      `meetedge_http_request_duration_seconds_bucket{le="0.001",method="POST",route="/v1/assign",service="zcp"} ${n1}`,
      `meetedge_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/v1/assign",service="zcp"} ${n5}`,
      `meetedge_http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/v1/assign",service="zcp"} ${nInf}`,
      `meetedge_http_request_duration_seconds_sum{method="POST",route="/v1/assign",service="zcp"} ${sum}`,
      `meetedge_http_request_duration_seconds_count{method="POST",route="/v1/assign",service="zcp"} ${nInf}`,
      'meetedge_http_request_duration_seconds_bucket{le="0.001",method="GET",route="/healthz",service="zcp"} 7',
      'meetedge_http_request_duration_seconds_count{method="GET",route="/healthz",service="zcp"} 7',
    ].join('\n');

  it('reads one route of a histogram, its growth over a window and percentile bounds', () => {
    const labels = { route: '/v1/assign' };
    const before = promHistogram(exposition(1, 2, 2, 0.003), 'meetedge_http_request_duration_seconds', labels);
    expect(before).toEqual({ buckets: [{ le: 0.001, count: 1 }, { le: 0.005, count: 2 }, { le: Number.POSITIVE_INFINITY, count: 2 }], sum: 0.003, count: 2 });
    const after = promHistogram(exposition(51, 100, 102, 0.5), 'meetedge_http_request_duration_seconds', labels);
    const window = promHistogramDelta(after, before);
    expect(window.count).toBe(100);
    expect(window.sum).toBeCloseTo(0.497);
    expect(promPercentileBound(window, 50)).toBe(0.001);
    expect(promPercentileBound(window, 51)).toBe(0.005);
    expect(promPercentileBound(window, 99)).toBe(Number.POSITIVE_INFINITY);
    expect(promPercentileBound({ buckets: [], sum: 0, count: 0 }, 50)).toBeNaN();
  });
});

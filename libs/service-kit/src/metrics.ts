/**
 * Prometheus metrics. Each service owns its Registry (no process-wide
 * singleton), so the all-in-one process can serve each service's own
 * /metrics.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface ServiceMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
}

/**
 * @param service label on every metric of this registry ("sfu", "zcp", ...)
 * @param processMetrics include process/Node metrics (once per process: the
 *   all-in-one mode turns it on for one service only)
 */
export function createServiceMetrics(service: string, processMetrics = true): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (processMetrics) collectDefaultMetrics({ register: registry, prefix: 'meetedge_' });
  const httpRequests = new Counter({
    name: 'meetedge_http_requests_total',
    help: 'HTTP requests answered, by route template and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'meetedge_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, seconds',
    labelNames: ['method', 'route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  return { registry, httpRequests, httpDuration };
}

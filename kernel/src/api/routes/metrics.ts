/**
 * GET /metrics: the control plane's Prometheus metrics (docs/metrics.md). Read with a
 * viewer token by default; `metrics.access: public` opens it to anyone who reaches the
 * API, for scrapers that cannot send a bearer token. It never holds a secret.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { ServiceDeps } from '../build-app.ts';
import type { ControlPlaneMetrics } from '../../metrics/control-plane-metrics.ts';
import { metricsContentType } from '../../metrics/registry.ts';

export const metricsRoutes: FastifyPluginAsync<ServiceDeps<'config' | 'metrics'>> = async (app, { config, metrics }) => {
  app.get(
    '/metrics',
    {
      config: { auth: { role: config.metrics.access === 'public' ? 'public' : 'viewer' } },
      schema: {
        tags: ['health'],
        summary: 'Prometheus metrics of this control plane replica (text exposition format 0.0.4)',
        description: `Requests by route, workflow and step outcomes and durations, queue depths, agent links, revision lag and address usage; every metric is listed in docs/metrics.md.${config.metrics.access === 'public' ? '' : '\n\nRequires role: **viewer**.'}`,
        ...(config.metrics.access === 'public' ? {} : { security: [{ bearer: [] }] }),
        response: { 200: { description: 'The metrics', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    },
    async (_request, reply) => {
      const text = await metrics.render();
      return reply.type(metricsContentType).send(text);
    },
  );
};

/**
 * Counts every answered request by its route template (`/v1/machines/:id`), never its raw
 * URL. The labelled series of each route, method and status are looked up once and kept:
 * prom-client would otherwise hash the label set twice on every request.
 */
export function countRequests(app: FastifyInstance, metrics: ControlPlaneMetrics): void {
  const series = new Map<string, { requests: { inc(): void }; duration: { observe(seconds: number): void } }>();
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const method = request.method;
    const status = String(reply.statusCode);
    const key = `${method} ${status} ${route}`;
    let one = series.get(key);
    if (!one) {
      one = { requests: metrics.httpRequests.labels({ method, route, status_code: status }), duration: metrics.httpDuration.labels({ method, route }) };
      series.set(key, one);
    }
    one.requests.inc();
    one.duration.observe(reply.elapsedTime / 1000);
    done();
  });
}

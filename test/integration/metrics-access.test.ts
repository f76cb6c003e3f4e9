/**
 * Who may read the control plane's /metrics, by config: a viewer token by default,
 * anyone with `metrics.access: public`, nobody with `metrics.enabled: false`; a wrong
 * value is refused at start naming the field. The agent's `metrics:` settings are
 * checked the same way before it starts.
 */
import test from 'ava';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { loadConfig } from '@sprout/kernel';
import { parseMetricsSettings } from '../../agent/src/metrics/metrics-listener.ts';
import { startHarness } from '@sprout/test-support/harness.ts';

test('metrics.access: public serves /metrics without a token, parsed as Prometheus text with the workflow and queue families', async (t) => {
  const h = await startHarness('pglite', { yaml: 'metrics: { access: public }\n' });
  t.teardown(() => h.stop());
  const res = await h.kernel.app!.inject({ url: '/metrics' });
  t.is(res.statusCode, 200);
  const names = parsePrometheusTextFormat(res.body).map((f) => f.name);
  for (const name of [
    'sprout_build_info',
    'sprout_http_requests_total',
    'sprout_workflows_total',
    'sprout_outbox_pending',
    'sprout_report_dead_letters',
    'process_cpu_seconds_total',
  ])
    t.true(names.includes(name), name);
});

test('metrics.enabled: false serves no /metrics at all', async (t) => {
  const h = await startHarness('pglite', { yaml: 'metrics: { enabled: false }\n' });
  t.teardown(() => h.stop());
  t.is((await h.request({ url: '/metrics' })).status, 404);
});

test('a wrong metrics.access is refused naming the field', (t) => {
  const err = t.throws(() => loadConfig({ env: { SPROUT_METRICS_ACCESS: 'everyone' } }));
  t.regex(err!.message + JSON.stringify((err as any).details ?? ''), /metrics\.access|metrics\/access/);
});

test("the agent's metrics settings: none by default, host:port when given, a bad value named", (t) => {
  t.is(parseMetricsSettings(undefined), undefined);
  t.deepEqual(parseMetricsSettings({ listen: '127.0.0.1:9464' }), { host: '127.0.0.1', port: 9464 });
  t.deepEqual(parseMetricsSettings({ listen: '[::1]:9464' }), { host: '::1', port: 9464 });
  t.throws(() => parseMetricsSettings({ listen: '9464' }), { message: /^metrics\.listen: host:port/ });
  t.throws(() => parseMetricsSettings({ port: 9464 }), { message: /metrics: unknown setting\(s\) port/ });
});

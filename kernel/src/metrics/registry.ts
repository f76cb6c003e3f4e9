/**
 * The one way Sprout's processes and plugins make Prometheus metrics: a registry per
 * process (the control plane's, an agent's), prom-client's metric types, and the
 * naming rule (`sprout_` prefix, `_total` counters, base units). It never serves
 * anything itself: the API and the agent's metrics listener expose a registry.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };
export type { CounterConfiguration, GaugeConfiguration, HistogramConfiguration } from 'prom-client';

export { metricsContentType } from './content-type.ts';

/** Buckets for durations from a fast API call (5 ms) to a long install (1 h), in seconds. */
export const durationBuckets = [0.005, 0.025, 0.1, 0.5, 1, 5, 30, 60, 300, 900, 1800, 3600];

/**
 * A new registry with the process's standard metrics (`process_*`, `nodejs_*`) and
 * `sprout_build_info{component,version}`. Metrics are registered on it by passing
 * `registers: [registry]`.
 */
export function createMetricsRegistry(component: 'control-plane' | 'agent', version: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'sprout_build_info',
    help: 'Always 1: the component and version of this process',
    labelNames: ['component', 'version'],
    registers: [registry],
  }).set({ component, version }, 1);
  return registry;
}

/** Throws when a metric name breaks the naming rule; plugins' metrics are checked with it. */
export function checkMetricName(name: string, type: 'counter' | 'gauge' | 'histogram'): void {
  const problems: string[] = [];
  if (!/^sprout_[a-z0-9_]+$/.test(name)) problems.push('must start with sprout_ and hold only a-z, 0-9 and _');
  if (type === 'counter' && !name.endsWith('_total')) problems.push('a counter ends in _total');
  if (type !== 'counter' && name.endsWith('_total')) problems.push('only counters end in _total');
  if (/_(ms|milliseconds|kb|mb|minutes|hours)(_|$)/.test(name)) problems.push('use base units (_seconds, _bytes)');
  if (problems.length > 0) throw new Error(`metric ${name}: ${problems.join('; ')}`);
}

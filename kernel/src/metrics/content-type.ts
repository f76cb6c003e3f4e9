/** The Content-Type of the Prometheus text exposition format a registry renders (light: no prom-client). */
export const metricsContentType = 'text/plain; version=0.0.4; charset=utf-8';

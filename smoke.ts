import { Kernel, loadConfig } from '@sprout/kernel';
const { config } = loadConfig({ env: { SPROUT_DATA_DIR: '/tmp/smoke-data', SPROUT_LOG_LEVEL: 'warn' } });
const t0 = Date.now();
const k = await Kernel.boot({ config });
console.log('boot ms', Date.now() - t0);
const app = k.app!;
for (const [m, u, h, b] of [['GET', '/healthz'], ['GET', '/readyz'], ['POST', '/v1/tokens', {}, { name: 'x', role: 'viewer' }], ['GET', '/v1/plugins']] as any) {
  const r = await app.inject({ method: m, url: u, headers: h, payload: b });
  console.log(m, u, r.statusCode, r.headers['content-type'], r.body.slice(0, 300));
}
const spec = await app.inject({ url: '/openapi.json' });
console.log(Object.keys(JSON.parse(spec.body).paths));
await k.stop();

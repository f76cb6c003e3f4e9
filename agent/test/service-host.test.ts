import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentServiceFactory, SiteDesiredState } from '@sprout/kernel';
import { ServiceHost } from '../src/service-host.ts';

const quiet = { info() {}, warn() {}, error() {} };

test('configured services start with their settings, see new desired state, report health; unknown or failing ones are reported', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sprout-services-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const seen: SiteDesiredState[] = [];
  let stopped = false;
  const echo: AgentServiceFactory = async (ctx) => {
    ctx.onDesiredState((state) => seen.push(state));
    return { health: () => ({ port: ctx.settings.port, networks: ctx.desiredState().networks?.length ?? 0 }), stop: async () => void (stopped = true) };
  };
  const broken: AgentServiceFactory = async () => {
    throw new Error('port 67 is taken');
  };
  const reports: { kind: string; payload: Record<string, unknown> }[] = [];
  let state: SiteDesiredState = { networks: [] };
  const host = new ServiceHost({
    dataDir,
    settings: { echo: { port: 6767 }, broken: {}, tftp: { port: 69 } },
    factories: new Map([['echo', echo], ['broken', broken]]),
    desiredState: () => state,
    report: (kind, payload) => reports.push({ kind, payload }),
    logger: quiet,
  });
  await host.start();
  state = { networks: [{ id: 'n', name: 'prov', cidr: '198.18.0.0/24', gateway: '198.18.0.1', dnsServers: [], domain: null, vlan: null, pxe: true, ranges: [] }] };
  host.desiredStateChanged(state);
  t.is(seen.length, 1);
  const health = host.health() as Record<string, any>;
  t.deepEqual(health.echo, { state: 'running', port: 6767, networks: 1 });
  t.deepEqual(health.broken, { state: 'failed', error: 'port 67 is taken' });
  t.regex(health.tftp.error, /no installed plugin offers a "tftp" service/);
  t.deepEqual(reports.map((r) => r.payload.service).sort(), ['broken', 'tftp']);
  await host.stop();
  t.true(stopped);
});

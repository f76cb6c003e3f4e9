/**
 * What an operator's Prometheus and log reader see after a simulated site commissions
 * and deploys a machine (the lab demo's kind of work): both /metrics endpoints parse with
 * a Prometheus text-format parser and count the boot (DHCP ACKs, iPXE scripts, workflows
 * succeeded); the agent's log names the machine's MAC and address at info, no line
 * carries a key twice, and the agents' heartbeats and polls are not logged at info.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { checkMetricName } from '@sprout/kernel';
import { freePort } from '@sprout/test-support/processes.ts';
import { simulatedSite, type SimulatedSite } from '@sprout/test-support/site-lab.ts';
import { until } from '@sprout/test-support/until.ts';

const mac = '52:54:00:83:01:01';

async function machineIn(lab: SimulatedSite, hostname: string, status: string): Promise<any> {
  return until(
    `${hostname} ${status}`,
    async () => {
      const m = await lab.api('GET', `/v1/machines/${hostname}`);
      return m.status === status && m;
    },
    90_000,
  );
}

/** The value of one sample of a family, by its labels; undefined when absent. */
function sample(families: ParsedFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.find((f) => f.name === name);
  const found = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (!found) return undefined;
  return Number(found.value ?? found.count);
}

/** The top-level keys of one JSON log line, in order, duplicates kept (JSON.parse would drop them). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && line[j + 1] === ':') keys.push(line.slice(i + 1, j));
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

const jsonLines = (log: string) =>
  log
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((raw) => ({ raw, line: JSON.parse(raw) }));

test.serial('after a simulated deploy both /metrics parse and count the boot; the logs name the machine and keep the link chatter at debug', async (t) => {
  const metricsPort = await freePort();
  const lab = await simulatedSite(t, '127.83.1', { env: { SPROUT_LOG_LEVEL: 'debug' }, agentYaml: [`metrics: { listen: '127.0.0.1:${metricsPort}' }`] });
  writeFileSync(join(lab.images, 'debian.raw'), randomBytes(300_000));
  await lab.imageReported('debian.raw');
  await lab.api('POST', '/v1/machines', { site: 'lab', hostname: 'obs-01', arch: 'x86_64', bootMode: 'bios', interfaces: [{ mac }] });
  await lab.api('POST', '/v1/machines/obs-01/commission', { hwtest: false });
  t.is((await lab.simulator.powerOn({ mac })).outcome, 'powered-off');
  await machineIn(lab, 'obs-01', 'ready');
  await lab.api('POST', '/v1/machines/obs-01/deploy', { image: 'debian.raw' });
  t.is((await lab.simulator.powerOn({ mac })).outcome, 'local-boot');
  const machine = await machineIn(lab, 'obs-01', 'deployed');
  const address: string =
    machine.addresses?.[0]?.address ?? (await lab.api('GET', '/v1/networks/prov/allocations')).items.find((a: any) => a.machineId === machine.id).address;

  // The control plane: a viewer token is needed by default.
  const url = `http://127.0.0.1:${lab.server.port}/metrics`;
  const anonymous = await fetch(url);
  t.is(anonymous.status, 401);
  t.regex(anonymous.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const viewer: string = (await lab.api('POST', '/v1/tokens', { name: 'prometheus', role: 'viewer' })).secret;
  const scraped = await fetch(url, { headers: { authorization: `Bearer ${viewer}` } });
  t.is(scraped.status, 200);
  t.regex(scraped.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const cpText = await scraped.text();
  const cp = parsePrometheusTextFormat(cpText);
  t.true(sample(cp, 'sprout_workflows_total', { kind: 'commission', outcome: 'succeeded' })! >= 1);
  t.true(sample(cp, 'sprout_workflows_total', { kind: 'deploy', outcome: 'succeeded' })! >= 1);
  t.true(sample(cp, 'sprout_workflow_steps_total', { kind: 'deploy', step: 'install', outcome: 'succeeded' })! >= 1);
  t.is(cp.find((f) => f.name === 'sprout_workflow_duration_seconds')?.type, 'HISTOGRAM');
  t.is(sample(cp, 'sprout_http_requests_total', { method: 'POST', route: '/v1/machines/:id/deploy', status_code: '202' }), 1);
  t.true(sample(cp, 'sprout_http_requests_total', { method: 'POST', route: '/v1/agents/:id/heartbeat', status_code: '200' })! >= 1);
  t.is(sample(cp, 'sprout_http_requests_total', { method: 'GET', route: '/metrics', status_code: '401' }), 1);
  // The parser keeps a histogram's buckets but not its labels: the labelled count is read from the text.
  t.true(cp.find((f) => f.name === 'sprout_http_request_duration_seconds')!.metrics.some((m) => Number(m.buckets?.['+Inf']) >= 1));
  t.regex(cpText, /^sprout_http_request_duration_seconds_count\{method="POST",route="\/v1\/machines\/:id\/deploy"\} 1$/m);
  t.false(
    cp.some((f) => f.name === 'sprout_http_requests_total' && f.metrics.some((m) => m.labels?.route?.includes(machine.id))),
    'routes are templates, never ids',
  );
  t.is(sample(cp, 'sprout_agent_connected', { site: 'lab', hostname: 'agent-lab' }), 1);
  // The deploy's last change (its boot intent cleared) reaches the agent within a heartbeat: the lag shows that, then reads 0.
  const lagNow = async () =>
    sample(
      parsePrometheusTextFormat(await (await fetch(url, { headers: { authorization: `Bearer ${viewer}` } })).text()),
      'sprout_agent_desired_state_revision_lag',
      { site: 'lab', hostname: 'agent-lab' },
    );
  t.true(
    [0, 1].includes(sample(cp, 'sprout_agent_desired_state_revision_lag', { site: 'lab', hostname: 'agent-lab' })!),
    'the lag is at most the one change just made',
  );
  await until("the agent to serve the site's newest revision (lag 0 on /metrics)", async () => (await lagNow()) === 0, 15_000);
  t.is(sample(cp, 'sprout_outbox_pending', { site: 'lab' }), 0);
  t.is(sample(cp, 'sprout_ipam_addresses', { site: 'lab', network: 'prov', use: 'allocated' }), 1);
  t.is(sample(cp, 'sprout_dhcp_leases_bound', { site: 'lab', network: 'prov' }), 1);

  // The agent: its own listener, no token.
  const agentScrape = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  t.is(agentScrape.status, 200);
  const agent = parsePrometheusTextFormat(await agentScrape.text());
  t.true(sample(agent, 'sprout_agent_dhcp_messages_total', { type: 'ack' })! >= 2, 'firmware and iPXE of two boots were acknowledged');
  t.true(sample(agent, 'sprout_agent_dhcp_messages_total', { type: 'discover' })! >= 2);
  t.true(sample(agent, 'sprout_agent_http_boot_requests_total', { kind: 'script' })! >= 2);
  t.true(sample(agent, 'sprout_agent_http_boot_requests_total', { kind: 'artifact' })! >= 3, 'kernel, initrd and image');
  t.true(sample(agent, 'sprout_agent_http_boot_requests_total', { kind: 'callback' })! >= 1);
  t.true(sample(agent, 'sprout_agent_tftp_transfers_total', { outcome: 'completed' })! >= 1);
  t.true(sample(agent, 'sprout_agent_tftp_sent_bytes_total')! >= 70_000);
  t.true(sample(agent, 'sprout_agent_work_items_total', { task: 'install', outcome: 'deferred' })! >= 1);
  t.is(sample(agent, 'sprout_agent_service_up', { service: 'dhcp' }), 1);
  t.is(sample(agent, 'sprout_agent_report_backlog'), 0);
  const served = sample(agent, 'sprout_agent_desired_state_revision')!;
  t.true(served >= 1);
  t.is(sample(cp, 'sprout_site_desired_state_revision', { site: 'lab' }), served);
  for (const family of [...cp, ...agent].filter((f) => f.name.startsWith('sprout_'))) {
    t.notThrows(() => checkMetricName(family.name, family.type.toLowerCase() as 'counter'), family.name);
  }
  t.is((await fetch(`http://127.0.0.1:${metricsPort}/v1/whoami`)).status, 404, 'the agent listener serves /metrics only');

  // The agent's log: the boot, per MAC, at info; every key once.
  const agentLines = jsonLines(lab.agent.log());
  for (const { raw } of agentLines) {
    const keys = topLevelKeys(raw);
    t.deepEqual(
      keys.filter((k, i) => keys.indexOf(k) !== i),
      [],
      raw,
    );
  }
  const info = agentLines.map((l) => l.line).filter((l) => l.level === 30);
  t.true(info.some((l) => l.msg === 'DHCP offer' && l.mac === mac && l.address === address && l.siteService === 'dhcp'));
  t.true(info.some((l) => l.msg === 'DHCP ack' && l.mac === mac && l.address === address));
  const deployWorkflow = (await lab.api('GET', '/v1/workflows?machine=obs-01')).items.find((w: any) => w.kind === 'deploy').id;
  t.true(
    info.some(
      (l) => l.msg === 'http boot: deploy script served' && l.mac === mac && l.address === address && l.hostname === 'obs-01' && l.workflow === deployWorkflow,
    ),
  );
  t.true(info.some((l) => l.msg === 'http boot: artifact fetched' && l.artifact === 'images/debian.raw' && l.mac === mac));
  t.true(info.some((l) => l.msg === 'http boot: callback install-complete' && l.hostname === 'obs-01' && l.workflow === deployWorkflow));
  t.true(info.some((l) => l.msg === 'work item install started' && l.workflow === deployWorkflow && l.machine === machine.id));
  t.true(info.some((l) => l.msg === 'power on obs-01' && l.driver === 'manual' && l.outcome === 'succeeded'));

  // The control plane's log: heartbeats and polls at debug only; a workflow's end names it.
  const serverLines = jsonLines(lab.server.log()).map((l) => l.line);
  const chatter = serverLines.filter((l) => /\/v1\/agents\/[^/]+\/(heartbeat|work|desired-state|reports)/.test(l.req?.url ?? ''));
  t.true(
    chatter.some((l) => l.level === 20),
    'the link requests are logged, at debug',
  );
  t.deepEqual(
    chatter.filter((l) => l.level >= 30 && l.res?.statusCode < 400),
    [],
  );
  const ended = serverLines.find((l) => l.msg === 'deploy workflow succeeded');
  t.truthy(ended);
  t.is(ended.machine, machine.id);
  t.is(ended.workflow, deployWorkflow);
  t.true(readFileSync(join(lab.work, 'agent.yaml'), 'utf8').includes('metrics:'));
});

/**
 * The agent checks desired state and reports without TypeBox (agent-contract.ts): the
 * JSON of the TypeBox schemas, generated, and a small checker that may say "certainly
 * valid" only where TypeBox agrees. Here: the generated file matches the schemas, the
 * checker accepts real documents (so agents skip TypeBox), never accepts what TypeBox
 * refuses — over each field of a document made wrong in many ways — and the problems of
 * a bad document are still TypeBox's, naming the field.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { Value } from 'typebox/value';
import { certainlyValid } from '../src/config/json-check.ts';
import { agentContractSource, renderAgentContract } from '../src/domain/agent-contract-source.ts';
import { agentReport, reportPayloads, siteDesiredState } from '../src/domain/agent-contract.generated.ts';
import { desiredStateProblems, reportPayloadProblem, reportProblem } from '../src/domain/agent-contract.ts';
import { SiteDesiredStateSchema } from '../src/domain/sites/desired-state-schema.ts';
import { AgentReportSchema, reportPayloadSchemas } from '../src/domain/agents/report-schema.ts';

const id = (n: number) => `0b0e6f2a-1c3d-4e5f-8a9b-${String(n).padStart(12, '0')}`;
const desiredState = {
  revision: 7,
  site: { id: id(1), name: 'fra1' },
  networks: [
    {
      id: id(2),
      name: 'prov',
      cidr: '10.0.0.0/24',
      gateway: '10.0.0.1',
      dnsServers: ['10.0.0.2'],
      domain: 'lab.example',
      vlan: null,
      pxe: true,
      ranges: [{ kind: 'dynamic', start: '10.0.0.100', end: '10.0.0.200' }],
    },
  ],
  reservations: [{ siteId: id(1), networkId: id(2), mac: '52:54:00:00:00:01', address: '10.0.0.10', hostname: 'node-1', netboot: true }],
  bootIntents: [
    {
      machineId: id(3),
      hostname: 'node-1',
      arch: 'x86_64',
      bootMode: 'uefi',
      intent: 'deploy',
      params: { image: 'debian-12', nested: { a: [1] } },
      workflow: id(4),
      mac: '52:54:00:00:00:01',
    },
  ],
  dnsRecords: [{ siteId: id(1), zone: 'lab.example', name: 'node-1', type: 'A', value: '10.0.0.10', ttl: 300 }],
};
const payloads: Record<string, unknown> = {
  'task.started': { task: 'install', attempt: 1, log: ['starting'] },
  'task.log': { log: ['a line', 'ünïcödé 🌱'] },
  'task.succeeded': { result: { disks: 2 }, log: [] },
  'task.failed': { error: 'disk missing', failedTests: ['smart'], reason: 'timeout' },
  'machine.hwtest-result': { name: 'smart', status: 'passed', durationMs: 12.5, output: 'ok', facts: null },
  'dhcp.lease': {
    mac: '52:54:00:00:00:01',
    address: '10.0.0.10',
    networkId: id(2),
    state: 'bound',
    expiresAt: '2026-12-06T04:13:17.123Z',
    uuid: null,
    hostname: 'node-1',
  },
  'power.state': { machineId: id(3), state: 'on', error: null },
  'dhcp.unknown-mac': { mac: '52:54:00:00:00:02', networkId: null, offered: '10.0.0.150' },
};
const report = {
  agentId: id(5),
  siteId: id(1),
  sequence: 1,
  kind: 'dhcp.lease',
  workItemId: null,
  at: '2026-12-06T04:13:17+01:00',
  payload: payloads['dhcp.lease'],
};

/** Wrong values to put in place of a field: other types, bad formats, edge numbers and strings. */
const wrongs: unknown[] = [
  undefined,
  null,
  true,
  0,
  -1,
  1.5,
  4095,
  1e21,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  '',
  'x',
  ' ',
  'A'.repeat(300),
  '🌱'.repeat(128),
  '🌱'.repeat(129),
  '10.0.0.256',
  '010.0.0.1',
  '10.0.0',
  'not-a-uuid',
  id(1).toUpperCase(),
  `${id(1)}0`,
  '52:54:00:00:00:0G',
  '52:54:00:00:00:01\n',
  'AA:BB:CC:DD:EE:FF',
  '10.0.0.0/33',
  '2026-02-30T00:00:00Z',
  '2026-12-06T24:00:00Z',
  '2026-12-06T23:59:60Z',
  '2026-12-06 04:13:17Z',
  '2026-12-06T04:13:17',
  '2024-02-29T00:00:00+23:59',
  'dynamic',
  'arm64',
  'bios',
  'erase',
  'PTR',
  'passed',
  'off',
  [],
  [1],
  ['x'],
  {},
  { extra: 1 },
  Array.from({ length: 1001 }, () => 'l'),
];

/** Every document reachable from `doc` by replacing, adding or removing one field (depth-first). */
function* variants(doc: unknown): Generator<unknown> {
  if (Array.isArray(doc)) {
    for (let i = 0; i < doc.length; i++) for (const v of [...wrongs, ...variants(doc[i])]) yield doc.map((x, j) => (j === i ? v : x));
    yield [...doc, ...doc.slice(0, 1)];
  } else if (typeof doc === 'object' && doc !== null) {
    for (const key of Object.keys(doc)) {
      for (const v of [...wrongs, ...variants((doc as Record<string, unknown>)[key])]) yield { ...doc, [key]: v };
      const { [key]: _, ...rest } = doc as Record<string, unknown>;
      yield rest;
    }
    yield { ...doc, surprise: 1 };
  }
}

test('agent-contract.generated.ts is the JSON of the TypeBox schemas (else: npm run contract:generate)', (t) => {
  const generated = readFileSync(new URL('../src/domain/agent-contract.generated.ts', import.meta.url), 'utf8');
  t.is(generated, renderAgentContract(agentContractSource()));
  t.deepEqual(siteDesiredState, JSON.parse(JSON.stringify(SiteDesiredStateSchema)));
  t.deepEqual(agentReport, JSON.parse(JSON.stringify(AgentReportSchema)));
  t.deepEqual(Object.keys(reportPayloads), Object.keys(reportPayloadSchemas));
});

test('real documents are certainly valid: an agent checks them without TypeBox', (t) => {
  t.true(certainlyValid(siteDesiredState, desiredState));
  t.true(certainlyValid(agentReport, report));
  for (const [kind, payload] of Object.entries(payloads)) t.true(certainlyValid(reportPayloads[kind], payload), kind);
  t.deepEqual(desiredStateProblems(desiredState), []);
  t.is(reportProblem(report), null);
});

test('the checker never calls valid what TypeBox refuses, over every one-field change of each document', (t) => {
  let checked = 0;
  let certain = 0;
  const agree = (schema: Record<string, unknown>, doc: unknown, what: string) => {
    checked += 1;
    if (!certainlyValid(schema, doc)) return;
    certain += 1;
    if (!Value.Check(schema as never, doc)) t.fail(`${what}: certainly valid, but TypeBox refuses ${JSON.stringify(doc)?.slice(0, 400)}`);
  };
  for (const doc of variants(desiredState)) agree(siteDesiredState, doc, 'desired state');
  for (const doc of variants(report)) agree(agentReport, doc, 'report');
  for (const [kind, payload] of Object.entries(payloads)) for (const doc of variants(payload)) agree(reportPayloads[kind], doc, kind);
  t.true(checked > 4_000, `${checked} documents`);
  // the changes TypeBox accepts too (a hostname of another length, an added reservation) are taken without it
  t.true(certain > 100, `${certain} certainly valid`);
});

test('a bad document is refused with TypeBox’s problems, naming the field', (t) => {
  const bad = { ...desiredState, networks: [{ ...desiredState.networks[0], gateway: '10.0.0.256' }] };
  t.deepEqual(desiredStateProblems(bad), desiredStateProblems(bad, 5));
  t.regex(desiredStateProblems(bad).join('; '), /\/networks\/0\/gateway/);
  t.deepEqual(reportPayloadProblem('dhcp.lease', { ...(payloads['dhcp.lease'] as object), expiresAt: 'tomorrow' }), {
    field: '/payload/expiresAt',
    message: 'must match format "date-time"',
  });
  t.deepEqual(reportPayloadProblem('power.state', { state: 'on' }), { field: '/payload/machineId', message: 'is required' });
  t.deepEqual(reportProblem({ ...report, extra: 1 }), { field: '/extra', message: 'is not a report field' });
  t.is(reportPayloadProblem('some.other-kind', { anything: true }), null);
});

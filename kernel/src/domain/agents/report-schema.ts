/**
 * What an agent's report must look like before the control plane applies it: the
 * envelope, and for the kinds the control plane acts on, the payload fields it reads.
 * A report that fails here is refused when it arrives (HTTP: 400 naming the field) or
 * dead-lettered with the reason (a broker transport), never retried: retrying cannot
 * make it valid, and an agent's later reports wait behind it.
 */
import Type, { type TSchema } from 'typebox';

const text = (maxLength: number) => Type.String({ maxLength });
const logLines = Type.Array(text(4000), { maxItems: 1000 });
const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const mac = Type.String({ pattern: '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$', description: 'lower-case, colon-separated' });
const ipv4 = Type.String({ format: 'ipv4' });
const uuid = Type.String({ format: 'uuid' });

/** Payloads of the kinds the control plane reads fields of; other kinds become audit records as sent. */
export const reportPayloadSchemas: Record<string, TSchema> = {
  'task.started': Type.Object({ task: Type.Optional(text(128)), attempt: Type.Optional(Type.Integer({ minimum: 1 })), log: Type.Optional(logLines) }),
  'task.log': Type.Object({ log: logLines }),
  'task.succeeded': Type.Object({ result: Type.Optional(Type.Record(Type.String(), Type.Unknown())), log: Type.Optional(logLines) }),
  'task.failed': Type.Object({
    error: Type.Optional(text(8000)),
    log: Type.Optional(logLines),
    failedTests: Type.Optional(Type.Array(text(128), { maxItems: 256 })),
    // a power work item's failure: PowerErrorReason
    reason: Type.Optional(text(32)),
  }),
  'machine.hwtest-result': Type.Object({
    name: Type.String({ minLength: 1, maxLength: 128 }),
    status: Type.Union([Type.Literal('passed'), Type.Literal('failed'), Type.Literal('skipped')]),
    durationMs: Type.Optional(Type.Number({ minimum: 0 })),
    output: Type.Optional(text(16_000)),
    facts: Type.Optional(nullable(Type.Record(Type.String(), Type.Unknown()))),
  }),
  'dhcp.lease': Type.Object({
    mac,
    address: ipv4,
    networkId: Type.Optional(nullable(uuid)),
    state: Type.Union([Type.Literal('bound'), Type.Literal('released'), Type.Literal('expired'), Type.Literal('declined')]),
    expiresAt: Type.Optional(nullable(Type.String({ format: 'date-time' }))),
    uuid: Type.Optional(nullable(text(64))),
    hostname: Type.Optional(nullable(text(255))),
  }),
  'power.state': Type.Object({
    machineId: uuid,
    state: Type.Union([Type.Literal('on'), Type.Literal('off'), Type.Literal('unknown')]),
    error: Type.Optional(nullable(text(4000))),
  }),
  'dhcp.unknown-mac': Type.Object({ mac, networkId: Type.Optional(nullable(uuid)), offered: Type.Optional(nullable(ipv4)) }),
};

export const AgentReportSchema = Type.Object(
  {
    agentId: uuid,
    siteId: uuid,
    sequence: Type.Integer({ minimum: 1 }),
    kind: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z][a-z0-9]*([.-][a-z0-9]+)*$' }),
    workItemId: Type.Optional(nullable(Type.String({ maxLength: 64 }))),
    at: Type.String({ format: 'date-time' }),
    payload: Type.Record(Type.String(), Type.Unknown()),
    // Set by the transport, never by the agent: the site whose credentials carried the report.
    channelSiteId: Type.Optional(uuid),
  },
  { additionalProperties: false },
);

/** Checked without TypeBox when valid (the agent's light path): see agent-contract.ts. */
export { reportProblem, reportPayloadProblem, type ReportProblem } from '../agent-contract.ts';

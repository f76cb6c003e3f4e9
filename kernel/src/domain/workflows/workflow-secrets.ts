/**
 * Secret workflow params (a deploy's user-data; each kind declares its own in
 * `definitions.ts`) are kept once, in `workflow_secrets`, apart from the params every
 * viewer reads. Only the dispatch of the workflow's work to its site and the operators'
 * route read a value; views, lists and audit records carry its sha256 and size, never it.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { workflowDefinitions, type WorkflowKind } from './definitions.ts';

export interface SecretDigest {
  sha256: string;
  /** Bytes (UTF-8). */
  size: number;
}

export function digestOf(value: string): SecretDigest {
  return { sha256: createHash('sha256').update(value, 'utf8').digest('hex'), size: Buffer.byteLength(value, 'utf8') };
}

/** Splits a workflow's params into those anyone may read and the secret ones its kind declares. */
export function separateSecrets(kind: WorkflowKind, params: Record<string, unknown>): { params: Record<string, unknown>; secrets: Record<string, string> } {
  const declared = workflowDefinitions[kind].secretParams ?? [];
  const visible: Record<string, unknown> = {};
  const secrets: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    if (!declared.includes(name)) visible[name] = value;
    else if (value !== undefined && value !== null) secrets[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return { params: visible, secrets };
}

/** The params as an audit record may hold them: each secret replaced by its digest. */
export function paramsForAudit(kind: WorkflowKind, params: Record<string, unknown>): Record<string, unknown> {
  const { params: visible, secrets } = separateSecrets(kind, params);
  return { ...visible, ...Object.fromEntries(Object.entries(secrets).map(([name, value]) => [name, digestOf(value)])) };
}

export async function storeSecrets(trx: Knex.Transaction, workflowId: string, secrets: Record<string, string>): Promise<void> {
  const rows = Object.entries(secrets).map(([name, value]) => ({ workflow_id: workflowId, name, value, ...digestOf(value) }));
  if (rows.length > 0) await trx('workflow_secrets').insert(rows);
}

/** A workflow's secret values by name: for the work sent to its site only. */
export async function secretValues(db: Knex | Knex.Transaction, workflowId: string): Promise<Record<string, string>> {
  const rows: { name: string; value: string }[] = await db('workflow_secrets').where({ workflow_id: workflowId }).select('name', 'value');
  return Object.fromEntries(rows.map((r) => [r.name, r.value]));
}

/** One secret's value and digest, or undefined. */
export async function secretValue(db: Knex | Knex.Transaction, workflowId: string, name: string): Promise<({ value: string } & SecretDigest) | undefined> {
  return db('workflow_secrets').where({ workflow_id: workflowId, name }).first('value', 'sha256', 'size');
}

/** Names and digests of the secrets of these workflows (never the values), by workflow. */
export async function secretDigests(db: Knex | Knex.Transaction, workflowIds: string[]): Promise<Map<string, ({ name: string } & SecretDigest)[]>> {
  const rows: { workflow_id: string; name: string; sha256: string; size: number }[] = await db('workflow_secrets')
    .whereIn('workflow_id', workflowIds)
    .orderBy(['workflow_id', 'name'])
    .select('workflow_id', 'name', 'sha256', 'size');
  const byWorkflow = new Map<string, ({ name: string } & SecretDigest)[]>();
  for (const r of rows) byWorkflow.set(r.workflow_id, [...(byWorkflow.get(r.workflow_id) ?? []), { name: r.name, sha256: r.sha256, size: Number(r.size) }]);
  return byWorkflow;
}

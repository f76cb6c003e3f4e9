/**
 * The checks of the agent's contract documents (the desired state it applies, the reports
 * it journals and the control plane applies) that a site agent runs, light: a document
 * the small checker finds certainly valid costs no TypeBox; any other is checked by
 * TypeBox (loaded then, once), which decides and names what is wrong. The schemas are the
 * JSON of desired-state-schema.ts and report-schema.ts (agent-contract.generated.ts).
 */
import { createRequire } from 'node:module';
import type { TSchema } from 'typebox';
import { certainlyValid, type JsonSchema } from '../config/json-check.ts';
import { agentReport, reportPayloads, siteDesiredState } from './agent-contract.generated.ts';

type ValueModule = typeof import('typebox/value');
let value: ValueModule['Value'] | undefined;

/** TypeBox's Value, loaded on first use (synchronously: Node ≥ 20.19 requires ES modules). */
export function typeboxValue(): ValueModule['Value'] {
  value ??= (createRequire(import.meta.url)('typebox/value') as ValueModule).Value;
  return value;
}

/** The first problems of a document that does not satisfy the desired-state contract (empty when it does). */
export function desiredStateProblems(document: unknown, limit = 5): string[] {
  if (certainlyValid(siteDesiredState, document)) return [];
  const problems: string[] = [];
  for (const error of typeboxValue().Errors(siteDesiredState as TSchema, document)) {
    if (error.keyword === 'boolean') continue;
    problems.push(`${error.instancePath || '/'} ${error.message}`);
    if (problems.length >= limit) break;
  }
  return problems;
}

export interface ReportProblem {
  /** JSON pointer into the report, e.g. `/payload/expiresAt`. */
  field: string;
  message: string;
}

/** The first thing wrong with a report, or null when the control plane can apply it. */
export function reportProblem(report: unknown): ReportProblem | null {
  const envelope = firstError(agentReport, report, '');
  if (envelope) return envelope;
  const { kind, payload } = report as { kind: string; payload: unknown };
  return reportPayloadProblem(kind, payload);
}

/** The first thing wrong with the payload of a report of `kind`: what an agent checks before it journals one. */
export function reportPayloadProblem(kind: string, payload: unknown): ReportProblem | null {
  const schema = Object.hasOwn(reportPayloads, kind) ? reportPayloads[kind] : undefined;
  return schema ? firstError(schema, payload, '/payload') : null;
}

function firstError(schema: JsonSchema, value: unknown, prefix: string): ReportProblem | null {
  if (certainlyValid(schema, value)) return null;
  for (const error of typeboxValue().Errors(schema as TSchema, value)) {
    const required = (error.params as { requiredProperties?: string[] }).requiredProperties;
    if (error.keyword === 'required' && required?.length) return { field: `${prefix}${error.instancePath}/${required[0]}`, message: 'is required' };
    const extra = (error.params as { additionalProperties?: string[] }).additionalProperties;
    if (error.keyword === 'additionalProperties' && extra?.length)
      return { field: `${prefix}${error.instancePath}/${extra[0]}`, message: 'is not a report field' };
    if (error.keyword === 'boolean') continue;
    return { field: `${prefix}${error.instancePath}` || '/', message: error.message };
  }
  return null;
}

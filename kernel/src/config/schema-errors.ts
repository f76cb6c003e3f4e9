/**
 * Turns TypeBox validation errors into problem details that name the offending key
 * (`capabilities.ipam.use`) and what was expected, for config files and plugin config.
 */
import type { TSchema } from 'typebox';
import type { ProblemDetail } from '../errors/index.ts';
// TypeBox loads on the first check, not with the light SDK that exports this (agents rarely need it).
import { typeboxValue } from '../domain/agent-contract.ts';

export function schemaProblems(schema: TSchema, value: unknown, prefix: string): ProblemDetail[] {
  const problems: ProblemDetail[] = [];
  const seen = new Set<string>();
  for (const error of typeboxValue().Errors(schema, value)) {
    // `additionalProperties: false` reports each extra key twice; keep the readable one.
    if (error.keyword === 'boolean') continue;
    const base = joinKeys(prefix, error.instancePath);
    const required = (error.params as { requiredProperties?: string[] }).requiredProperties;
    const entries: ProblemDetail[] =
      error.keyword === 'required' && required
        ? required.map((key) => ({ field: joinKeys(base, `/${key}`), message: 'is required' }))
        : error.keyword === 'additionalProperties'
          ? ((error.params as { additionalProperties?: string[] }).additionalProperties ?? []).map((key) => ({
              field: joinKeys(base, `/${key}`) || '(root)',
              message: 'unknown key',
            }))
          : [
              {
                field: base || '(root)',
                message: withExpectation(
                  error.keyword,
                  error.message,
                  schemaAt(schema, error.schemaPath),
                  schemaAt(schema, error.schemaPath.replace(/\/anyOf\/\d+$/, '')),
                ),
              },
            ];
    for (const entry of entries) {
      const id = `${entry.field}\0${entry.message}`;
      if (!seen.has(id)) {
        seen.add(id);
        problems.push(entry);
      }
    }
  }
  return problems;
}

function joinKeys(prefix: string, pointer: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return [prefix, ...parts].filter(Boolean).join('.');
}

/** The sub-schema an error points at (`#/properties/listen`), to quote its description. */
function schemaAt(schema: unknown, schemaPath: string): Record<string, unknown> | undefined {
  let node: any = schema;
  for (const part of schemaPath.replace(/^#\/?/, '').split('/').filter(Boolean)) {
    node = node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return typeof node === 'object' && node !== null ? node : undefined;
}

function withExpectation(keyword: string, message: string, schema?: Record<string, unknown>, union?: Record<string, unknown>): string {
  if (Array.isArray(union?.anyOf) && union.anyOf.every((s: any) => 'const' in s)) {
    return `must be one of: ${union.anyOf.map((s: any) => String(s.const)).join(', ')}`;
  }
  if (typeof schema?.description !== 'string') return message;
  return keyword === 'pattern' ? `must be ${schema.description}` : `${message} (expected ${schema.description})`;
}

/**
 * Turns TypeBox validation errors into problem details that name the offending key
 * (`capabilities.ipam.use`) and what was expected, for config files and plugin config.
 */
import { Value } from 'typebox/value';
import type { TSchema } from 'typebox';
import type { ProblemDetail } from '../errors/index.ts';

export function schemaProblems(schema: TSchema, value: unknown, prefix: string): ProblemDetail[] {
  const problems: ProblemDetail[] = [];
  const seen = new Set<string>();
  for (const error of Value.Errors(schema, value)) {
    // `additionalProperties: false` reports each extra key twice; keep the readable one.
    if (error.keyword === 'boolean') continue;
    const base = keyPath(prefix, error.instancePath);
    const entries: ProblemDetail[] =
      error.keyword === 'additionalProperties'
        ? ((error.params as { additionalProperties?: string[] }).additionalProperties ?? []).map((key) => ({
            field: keyPath(base, `/${key}`),
            message: 'unknown key',
          }))
        : [{ field: base, message: error.message }];
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

function keyPath(prefix: string, pointer: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return [prefix, ...parts].filter(Boolean).join('.') || '(root)';
}

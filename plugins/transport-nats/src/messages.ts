/**
 * Work items and reports travel as JSON. What arrives is checked for the fields the
 * other side relies on; anything else is unreadable and is never retried.
 */
import type { AgentReport, WorkItem } from '@sprout/kernel/sdk';
import { UnreadableMessage } from './in-order-consumer.ts';

const decoder = new TextDecoder();

export function readWorkItem(data: Uint8Array): WorkItem {
  const value = parse(data, 'work item');
  expect(value, 'work item', { id: 'string', siteId: 'string', kind: 'string', payload: 'object' });
  return value as unknown as WorkItem;
}

/**
 * A report as sent: its fields are checked by the control plane, which sets a malformed
 * one aside with the reason (a dead letter an operator can see) instead of dropping it here.
 */
export function readReport(data: Uint8Array): AgentReport {
  return parse(data, 'report') as unknown as AgentReport;
}

function parse(data: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch (err) {
    throw new UnreadableMessage(`a ${what} is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UnreadableMessage(`a ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

function expect(value: Record<string, unknown>, what: string, fields: Record<string, 'string' | 'number' | 'object'>): void {
  const wrong = Object.entries(fields)
    .filter(([key, type]) => typeof value[key] !== type || value[key] === null)
    .map(([key, type]) => `${key} (a ${type})`);
  if (wrong.length > 0) throw new UnreadableMessage(`a ${what} lacks ${wrong.join(', ')}`);
}

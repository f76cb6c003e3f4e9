/**
 * One booted kernel per backend for this plugin's tests, shared by a test file and
 * stopped after it, and the kernel-owned rows (sites) the dns records hang off.
 */
import { randomUUID } from 'node:crypto';
import type { TestFn } from 'ava';
import type { Knex } from 'knex';
import { startHarness, type Backend, type Harness } from '@sprout/test-support/harness.ts';

export async function insertSite(db: Knex): Promise<string> {
  const id = randomUUID();
  await db('sites').insert({ id, name: `site-${id.slice(0, 8)}` });
  return id;
}

/** Boots the kernel on first use and registers its stop after the file's last test. */
export function sharedHarness(test: TestFn, backend: Backend): () => Promise<Harness> {
  let harness: Promise<Harness> | undefined;
  test.after.always(async () => {
    if (harness) await (await harness).stop();
  });
  return () => (harness ??= startHarness(backend));
}

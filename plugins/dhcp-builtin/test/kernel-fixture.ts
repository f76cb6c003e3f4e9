/**
 * One booted kernel per backend for this plugin's tests, shared by a test file and
 * stopped after it, and the kernel-owned rows (a site and its provisioning network)
 * that reservations hang off.
 */
import { randomUUID } from 'node:crypto';
import type { TestFn } from 'ava';
import type { Knex } from 'knex';
import { startHarness, type Backend, type Harness } from '@sprout/test-support/harness.ts';

export async function insertSite(db: Knex): Promise<{ siteId: string; networkId: string }> {
  const siteId = randomUUID();
  const networkId = randomUUID();
  await db('sites').insert({ id: siteId, name: `site-${siteId.slice(0, 8)}` });
  await db('networks').insert({ id: networkId, site_id: siteId, name: 'provisioning', cidr: '198.18.0.0/24', gateway: '198.18.0.1' });
  return { siteId, networkId };
}

/** Boots the kernel on first use and registers its stop after the file's last test. */
export function sharedHarness(test: TestFn, backend: Backend): () => Promise<Harness> {
  let harness: Promise<Harness> | undefined;
  test.after.always(async () => {
    if (harness) await (await harness).stop();
  });
  return () => (harness ??= startHarness(backend));
}

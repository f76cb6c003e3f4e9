/**
 * The builtin IPAM passes the `ipam` contract on both stores, in a kernel booted with this
 * package as its only builtin plugin. It reaches the package by its name, so the same file
 * runs against the installed, packed package (scripts/packed-test.mjs).
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Kernel, loadConfig, openStore, resolvePluginPackage } from '@sprout/kernel';
import { ipamContract, kernelIpamSubject } from '@sprout/kernel/testing';

const postgresUrl = process.env.SPROUT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const plugin = resolvePluginPackage('@sprout/plugin-ipam-builtin', import.meta.url);

async function onPostgres(sql: string): Promise<void> {
  const store = await openStore({ databaseUrl: postgresUrl, dataDir: tmpdir() });
  try {
    await store.db.raw(sql);
  } finally {
    await store.close();
  }
}

async function boot(backend: 'pglite' | 'postgres'): Promise<{ kernel: Kernel; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ipam-builtin-'));
  const schema = backend === 'postgres' ? `ipam_${randomBytes(5).toString('hex')}` : undefined;
  const env = { SPROUT_DATA_DIR: dataDir, SPROUT_LOG_LEVEL: 'silent', ...(schema ? { SPROUT_DATABASE_URL: postgresUrl } : {}) };
  const { config } = loadConfig({ env, cwd: dataDir });
  if (schema) await onPostgres(`create schema ${schema}`);
  const kernel = await Kernel.boot({ config, env, builtinPlugins: [plugin], background: false, store: schema ? { schema } : { inMemory: true } });
  return {
    kernel,
    async stop() {
      await kernel.stop();
      if (schema) await onPostgres(`drop schema ${schema} cascade`);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

for (const backend of ['pglite', 'postgres'] as const) {
  let running: { kernel: Kernel; stop(): Promise<void> } | undefined;
  ipamContract(test, {
    title: `ipam-builtin on ${backend}`,
    async setup() {
      running = await boot(backend);
      return kernelIpamSubject(running.kernel, 'ipam-builtin');
    },
    teardown: async () => running?.stop(),
  });
}

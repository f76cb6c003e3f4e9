/**
 * The agent's identity, kept in `<dataDir>/agent.json` (mode 0600): its id, site and
 * credential. Written once at registration; every restart reuses it.
 */
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ensurePrivateDir } from '@sprout/kernel/sdk';
import { join } from 'node:path';

export interface AgentIdentity {
  agentId: string;
  siteId: string;
  siteName: string;
  credential: string;
  controlPlaneUrl: string;
  heartbeatSeconds: number;
  transport: { plugin: string; settings: Record<string, unknown> };
}

export const identityFile = (dataDir: string) => join(dataDir, 'agent.json');

export function loadIdentity(dataDir: string): AgentIdentity | null {
  const file = identityFile(dataDir);
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as AgentIdentity;
}

export function saveIdentity(dataDir: string, identity: AgentIdentity): void {
  ensurePrivateDir(dataDir);
  const file = identityFile(dataDir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(identity, null, 2)}\n`, { mode: 0o600 });
  chmodSync(`${file}.tmp`, 0o600);
  renameSync(`${file}.tmp`, file);
}

/**
 * The CLI profile: the URL, token and CA file saved by `sprout login`, in
 * `$XDG_CONFIG_HOME/sprout/profile.json` (mode 0600).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface Profile {
  url: string;
  token: string;
  /** PEM file of a private CA the server's certificate chains to (`sprout login --ca`). */
  ca?: string;
}

export function profilePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'sprout', 'profile.json');
}

export function readProfile(env: NodeJS.ProcessEnv = process.env): Profile | null {
  const path = profilePath(env);
  if (!existsSync(path)) return null;
  try {
    const p = JSON.parse(readFileSync(path, 'utf8'));
    return typeof p.url === 'string' && typeof p.token === 'string' ? p : null;
  } catch {
    return null;
  }
}

export function writeProfile(profile: Profile, env: NodeJS.ProcessEnv = process.env): string {
  const path = profilePath(env);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(profile, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

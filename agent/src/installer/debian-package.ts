/**
 * Debian packages as the installer's only source: the candidate version apt knows,
 * `apt-get download` into a cache folder (kept across builds, keyed by name, version
 * and architecture), and `dpkg-deb -x` into a folder — never installed on the host.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SproutError } from '@sprout/kernel/sdk';

export interface DebianPackage {
  name: string;
  version: string;
  architecture: string;
  /** The downloaded .deb. */
  deb: string;
}

/** Runs a command (stdin: `input`); fails with a SproutError naming it and its stderr. */
export function run(command: string, args: string[], cwd?: string, input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${command} is not installed` : stderr.trim() || err.message;
      reject(new SproutError('SPROUT_ERR_UNAVAILABLE', `${command} ${args.join(' ')} failed: ${why}`, { context: { command, args } }));
    });
    child.stdin?.on('error', () => {}); // a command that does not read its input exits early
    child.stdin?.end(input ?? '');
  });
}

/** The fields of the candidate version's record (`apt-cache show --no-all-versions`). */
export async function candidate(name: string): Promise<Record<string, string>> {
  const text = await run('apt-cache', ['show', '--no-all-versions', name]).catch((err: SproutError) => {
    throw new SproutError('SPROUT_ERR_UNAVAILABLE', `apt knows no package ${name} (run apt-get update?): ${err.message}`, { cause: err });
  });
  const fields: Record<string, string> = {};
  let last = '';
  for (const line of text.split('\n')) {
    if (line === '' && Object.keys(fields).length) break;
    const m = /^([\w-]+):\s?(.*)$/.exec(line);
    if (m) fields[(last = m[1])] = m[2];
    else if (/^\s/.test(line) && last) fields[last] += `\n${line.trim()}`;
  }
  if (!fields.Version) throw new SproutError('SPROUT_ERR_UNAVAILABLE', `apt has no installable version of ${name} (run apt-get update?)`);
  return fields;
}

/** The versioned kernel package a meta package (e.g. linux-image-cloud-amd64) points at now. */
export async function kernelPackageOf(meta: string): Promise<string> {
  const depends = (await candidate(meta)).Depends ?? '';
  const target = /\b(linux-image-\d[\w.+-]*)/.exec(depends)?.[1];
  if (!target) throw new SproutError('SPROUT_ERR_UNAVAILABLE', `${meta} depends on no versioned linux-image package (Depends: ${depends || 'nothing'})`);
  return target;
}

/** The candidate of `name` as a .deb in `cacheDir`, downloaded only when not there yet. */
export async function download(name: string, cacheDir: string): Promise<DebianPackage> {
  const fields = await candidate(name);
  const version = fields.Version;
  const architecture = fields.Architecture ?? 'amd64';
  mkdirSync(cacheDir, { recursive: true });
  // apt-get download's own file name: an epoch's ':' is written as %3a
  const file = `${name}_${version.replace(/:/g, '%3a')}_${architecture}.deb`;
  const deb = join(cacheDir, file);
  if (!existsSync(deb)) {
    const scratch = mkdtempSync(join(cacheDir, '.download-'));
    try {
      await run('apt-get', ['download', '-q', `${name}=${version}`], scratch);
      const got = readdirSync(scratch).find((f) => f.endsWith('.deb'));
      if (!got) throw new SproutError('SPROUT_ERR_UNAVAILABLE', `apt-get download ${name}=${version} wrote no .deb`);
      renameSync(join(scratch, got), deb);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  return { name, version, architecture, deb };
}

/**
 * The package's files under `into` (reused when a previous unpack there completed).
 * Unpacked beside it and renamed into place, so builds running at once never see half a tree.
 */
export async function unpack(pkg: DebianPackage, into: string): Promise<string> {
  const done = join(into, '.sprout-unpacked');
  if (existsSync(done)) return into;
  mkdirSync(dirname(into), { recursive: true });
  const scratch = mkdtempSync(`${into}.unpacking-`);
  try {
    await run('dpkg-deb', ['-x', pkg.deb, scratch]);
    writeFileSync(join(scratch, '.sprout-unpacked'), `${pkg.name} ${pkg.version}\n`);
    try {
      renameSync(scratch, into);
    } catch {
      if (existsSync(done)) return into; // another build finished first
      rmSync(into, { recursive: true, force: true }); // what an interrupted unpack left
      renameSync(scratch, into);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return into;
}

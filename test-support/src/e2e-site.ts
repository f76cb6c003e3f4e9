/**
 * A Sprout site with real machines on a wire, for end-to-end tests: a control plane
 * (PGlite or a PostgreSQL database of the test's own), a network namespace with the
 * agent's bridge and a tap for a QEMU VM, a site and PXE network, and a real site agent
 * in the namespace serving DHCP, TFTP and HTTP boot with the installer built by
 * `sprout artifacts build-installer` (once per run, from Debian packages) and a test
 * image. Everything is removed at teardown; logs are kept under test-results/ when the
 * test failed (or with SPROUT_E2E_KEEP_LOGS=1).
 */
import type { ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bin, cleanEnv, sprout, startServer } from './processes.ts';
import { postgresUrl, withPostgres } from './harness.ts';
import { createNetns, type Netns, type Spawned } from './netns.ts';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const natsUrl = process.env.SPROUT_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
/** Kept across runs: the .debs and the built installer (rebuilt each run from the cache). */
const installerCache = join(tmpdir(), 'sprout-e2e-installer');
/** What the test image's boot sector prints on COM1 when a BIOS machine boots its disk. */
export const MARKER = 'SPROUT-DISK-BOOTED';

/**
 * Runs `build` while holding `<cache>/build.lock` (a folder holding the holder's pid):
 * test files run in processes of their own, and two building into one cache at once
 * would overwrite files another is copying (an image beside another build's manifest).
 * A lock whose holder is gone is taken over; waiting is bounded.
 */
async function underCacheLock<T>(cache: string, build: () => Promise<T>): Promise<T> {
  mkdirSync(cache, { recursive: true });
  const lock = join(cache, 'build.lock');
  const deadline = Date.now() + 40 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSyncSafe(join(lock, 'pid')));
      if (holder && !alive(holder)) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`${lock} is still held by process ${holder} after 40 min`);
      else await new Promise((r) => setTimeout(r, 1_000));
    }
  }
  try {
    return await build();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function readFileSyncSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return ''; // written just after the folder: a holder this new is alive
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs the real CLI with `args`; its JSON output, or an error with its output. */
async function cliJson(what: string, args: string[]): Promise<any> {
  const run = await sprout(args, { cwd: repoRoot });
  if (run.code !== 0) throw new Error(`sprout ${what} failed (${run.code}): ${run.stdout}${run.stderr.slice(-3000)}`);
  return JSON.parse(run.stdout);
}

let built: Promise<any> | undefined;
/**
 * The installer, built once per test process by the real CLI from the stable .deb cache
 * into a folder of this process's own (another test file's process rebuilds while this
 * one copies); folders of processes that are gone are removed first.
 */
export function installer(): Promise<any> {
  built ??= underCacheLock(installerCache, () => {
    const runs = join(installerCache, 'runs');
    mkdirSync(runs, { recursive: true });
    for (const pid of readdirSync(runs)) if (!alive(Number(pid))) rmSync(join(runs, pid), { recursive: true, force: true });
    return cliJson('artifacts build-installer', [
      'artifacts',
      'build-installer',
      '--out',
      join(runs, String(process.pid)),
      '--cache',
      join(installerCache, 'debs'),
      '--json',
    ]);
  });
  return built;
}

/** Kept across runs: the .debs and the Debian image (reused while its inputs are the same). */
const imageCache = join(tmpdir(), 'sprout-e2e-image');

let builtImage: Promise<any> | undefined;
/**
 * The Debian 12 image, built once per run (or reused from an earlier run) by the real CLI
 * into the stable cache folder: its manifest, plus `path` and `reused`.
 */
export function debianImage(): Promise<any> {
  builtImage ??= underCacheLock(imageCache, () =>
    cliJson('artifacts build-image debian-12', [
      'artifacts',
      'build-image',
      'debian-12',
      '--out',
      join(imageCache, 'artifacts'),
      '--cache',
      join(imageCache, 'debs'),
      '--json',
    ]),
  );
  return builtImage;
}

/**
 * A disk image: an MBR boot sector that prints MARKER on COM1 and halts (hand-assembled
 * 16-bit code), then random data.
 */
export function testImage(bytes: number): Buffer {
  const image = randomBytes(bytes);
  const message = Buffer.from(`${MARKER}\r\n\0`, 'latin1');
  const msgAddress = 0x7c00 + 22;
  const code = Buffer.from([
    0xfa, //             cli
    0x31,
    0xc0, //       xor ax, ax
    0x8e,
    0xd8, //       mov ds, ax
    0xbe,
    msgAddress & 0xff,
    msgAddress >> 8, // mov si, msg
    0xba,
    0xf8,
    0x03, // mov dx, 0x3f8
    0xac, //             next: lodsb
    0x84,
    0xc0, //       test al, al
    0x74,
    0x03, //       jz done
    0xee, //             out dx, al
    0xeb,
    0xf8, //       jmp next
    0xf4, //             done: hlt
    0xeb,
    0xfd, //       jmp done
  ]);
  code.copy(image, 0);
  message.copy(image, code.length);
  image.fill(0, code.length + message.length, 446); // no stray bytes before the partition table
  image.fill(0, 446, 510); // an empty partition table
  image[510] = 0x55;
  image[511] = 0xaa;
  return image;
}

export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

export { readAt } from '@sprout/agent/image';

export interface E2eSiteOptions {
  /** The namespace's /24, e.g. 198.18.90 (its .1 is the agent). */
  subnet: string;
  /** A PostgreSQL database of the test's own instead of PGlite. */
  postgres: boolean;
  env: Record<string, string>;
  /** Extra control-plane config. */
  yaml: string;
  /** Names the kept logs' folder. */
  name: string;
  /**
   * The agent's `ra` service (radvd answering iPXE's IPv6 router solicitations, which
   * saves every boot iPXE's ~16 s wait for them); on unless false (the boot bench's "before").
   */
  ra?: boolean;
}

export interface E2eSite {
  work: string;
  ns: Netns;
  server: Awaited<ReturnType<typeof startServer>>;
  /** Runs the real CLI against the control plane; throws with its output when it fails. */
  cli(...args: string[]): Promise<string>;
  /** The same, with `input` on standard input. */
  cliWithInput(input: string, ...args: string[]): Promise<string>;
  /** The agent's artifact folder (installer/, images/). */
  artifacts: string;
  agent: Spawned;
  /** Writes `image` as images/`name` in the agent's artifact store. */
  addImage(name: string, image: Buffer): void;
  /** Hard-links a built image (and its `.manifest.json`, if there) into the agent's artifact store under its own name. */
  linkImage(path: string): string;
  /** A file under the logs folder kept on failure. */
  logFile(name: string): string;
}

export async function startE2eSite(t: ExecutionContext, options: E2eSiteOptions): Promise<E2eSite> {
  const manifest = await installer();
  const work = mkdtempSync(join(tmpdir(), 'sprout-e2e-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  mkdirSync(join(work, 'logs'));
  t.teardown(() => {
    if (t.passed && !process.env.SPROUT_E2E_KEEP_LOGS) return;
    const kept = join(repoRoot, 'test-results', `${options.name}-${Date.now()}`);
    mkdirSync(kept, { recursive: true });
    cpSync(join(work, 'logs'), kept, { recursive: true });
    console.error(`serial logs and agent log kept in ${kept}`);
  });

  const env: Record<string, string> = { ...options.env };
  if (options.postgres) {
    const database = `sprout_e2e_${randomBytes(4).toString('hex')}`;
    await withPostgres((db) => db.raw(`create database ${database}`));
    t.teardown(() => withPostgres((db) => db.raw(`drop database if exists ${database} with (force)`)));
    env.SPROUT_DATABASE_URL = postgresUrl.replace(/\/[^/]*$/, `/${database}`);
  }
  const server = await startServer(env, `agents: { heartbeatSeconds: 1 }\n${options.yaml}`);
  t.teardown(async () => {
    writeFileSync(join(work, 'logs', 'server.log'), server.log());
    await server.stop();
  });
  const run = async (input: string | undefined, args: string[]) => {
    const result = await sprout(args, { cwd: server.dir, env: server.env, ...(input !== undefined ? { input } : {}) });
    if (result.code !== 0) throw new Error(`sprout ${args.join(' ')} failed (${result.code}): ${result.stdout}${result.stderr}`);
    return result.stdout;
  };
  const cli = (...args: string[]) => run(undefined, args);

  // The wire: a namespace with the agent's bridge and the VM's tap; the control plane
  // (and NATS) stay on host loopback, reached through unix-socket forwarders.
  const ns = await createNetns(t, options.subnet);
  await ns.forwardToHost(server.port);
  if (env.SPROUT_NATS_URL) await ns.forwardToHost(Number(new URL(env.SPROUT_NATS_URL).port || 4222));

  const site = JSON.parse(await cli('site', 'create', 'lab', '--json'));
  await cli(
    'network',
    'create',
    '--site',
    'lab',
    '--name',
    'prov',
    '--cidr',
    `${options.subnet}.0/24`,
    '--gateway',
    ns.address,
    '--domain',
    'lab.example',
    '--pxe',
    '--reserved',
    `${options.subnet}.2-${options.subnet}.9`,
  );

  const artifacts = join(work, 'artifacts');
  mkdirSync(join(artifacts, 'installer'), { recursive: true });
  mkdirSync(join(artifacts, 'images'));
  for (const file of ['vmlinuz', 'initrd.img']) copyFileSync(join(manifest.out, 'installer', file), join(artifacts, 'installer', file));

  // The TFTP root holds copies: Debian's /usr/lib/ipxe/ipxe.efi is a symlink to
  // /boot/ipxe.efi, outside the root, which the TFTP server rightly refuses.
  const tftpRoot = join(work, 'tftp');
  mkdirSync(tftpRoot);
  for (const file of ['ipxe.efi', 'undionly.kpxe']) copyFileSync(join('/usr/lib/ipxe', file), join(tftpRoot, file));

  const agentConfig = join(work, 'agent.yaml');
  writeFileSync(
    agentConfig,
    [
      `controlPlane: http://127.0.0.1:${server.port}`,
      `joinToken: ${site.joinToken.token}`,
      `dataDir: ${join(work, 'agent')}`,
      'hostname: agent-e2e',
      'services:',
      `  dhcp: { interfaces: [${ns.address}] }`,
      `  tftp: { address: ${ns.address}, root: ${tftpRoot} }`,
      `  http: { port: 80, address: ${ns.address}, artifactRoot: ${artifacts} }`,
      ...(options.ra === false ? [] : ['  ra: {}']),
      '',
    ].join('\n'),
  );
  const agent = ns.spawn(process.execPath, [bin, 'agent', 'run', '--config', agentConfig], { cwd: server.dir, env: { ...cleanEnv(), ...server.env } });
  t.teardown(() => writeFileSync(join(work, 'logs', 'agent.log'), agent.log()));
  await agent.waitFor('sprout agent is running');
  return {
    work,
    ns,
    server,
    cli,
    cliWithInput: (input, ...args) => run(input, args),
    artifacts,
    agent,
    addImage: (name, image) => writeFileSync(join(artifacts, 'images', name), image),
    linkImage: (path) => {
      const name = basename(path);
      linkSync(path, join(artifacts, 'images', name));
      if (existsSync(`${path}.manifest.json`)) copyFileSync(`${path}.manifest.json`, join(artifacts, 'images', `${name}.manifest.json`));
      return name;
    },
    logFile: (name) => join(work, 'logs', name),
  };
}

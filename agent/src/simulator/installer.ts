/**
 * The installer a simulated machine boots into: reads its metadata, runs the hardware
 * tests it is given and reports each, then finishes its step — commission-complete or
 * tests-complete and power off, or stream the image through sha256, compare, report
 * install-complete and reboot, or wipe its disks (erase: each simulated disk's image is
 * gone), report erase-complete with what it wiped and power off — or reports `failed`
 * with a reason and powers off.
 * Injected failures change exactly one of these moves.
 */
import type { HttpCall, MachineHttp } from './machine-http.ts';
import { factsOf, runHardwareTest } from './hardware-tests.ts';
import type { SimulatedMachine, SimulatorEventKind } from './simulator-types.ts';

interface Metadata {
  step: string;
  hwtests?: string[];
  hwtestDefinitions?: { name: string; run: { kind: string } }[];
  image?: { url: string; sha256?: string | null; size?: number | null } | null;
  callbacks: string;
  cloudInit?: { seedfrom: string } | null;
}

export interface InstallerContext {
  machine: SimulatedMachine;
  http: MachineHttp;
  call: HttpCall;
  emit(kind: SimulatorEventKind, detail: string): void;
  /**
   * What the machine remembers across boots: a crash happens once; `installed`: its disk holds an installed image;
   * `seedfrom`: the cloud-init seed the installer wrote into it, until its first boot has run cloud-init (installed-os.ts).
   */
  memory: { crashedInstall?: boolean; installed?: boolean; seedfrom?: string };
  /** Resolves when the machine is powered off: an installer gone silent waits for it. */
  poweredOff: Promise<void>;
}

export type InstallerEnd = { end: 'power-off'; detail: string } | { end: 'reboot'; detail: string } | { end: 'error'; detail: string };

class CallbackRefused extends Error {}

export async function runInstaller(metadataUrl: string, ctx: InstallerContext): Promise<InstallerEnd> {
  const { http, call, emit, machine } = ctx;
  const got = await http.getText(metadataUrl, call);
  if (got.status !== 200) {
    emit('error', `metadata ${metadataUrl.replace(/(\/metadata\/)[\w-]+/, '$1<boot token>')} answered ${got.status}: ${got.text.trim()}`);
    return { end: 'error', detail: `metadata answered ${got.status}: ${got.text.trim()}` };
  }
  const meta = JSON.parse(got.text) as Metadata;
  const tests = meta.hwtests ?? [];
  emit('metadata', `step ${meta.step}${tests.length ? `, hardware tests ${tests.join(' ')}` : ''}${meta.image ? `, image ${meta.image.url}` : ''}`);
  if (machine.fail === 'no-callback') {
    emit('crash', 'the installer hangs and will never call back (injected failure no-callback)');
    await ctx.poweredOff;
    return { end: 'power-off', detail: 'powered off while the installer hung' };
  }
  const post = async (event: string, body: Record<string, unknown>) => {
    const answer = await http.postJson(`${meta.callbacks}/${event}`, body, call);
    emit('callback', `${event}${event === 'failed' ? `: ${String(body.reason)}` : ''} → ${answer.status}`);
    if (answer.status < 200 || answer.status > 299) throw new CallbackRefused(`the agent answered ${event} with ${answer.status}: ${answer.text.trim()}`);
  };
  const fail = async (reason: string, log: string[], extra: Record<string, unknown> = {}): Promise<InstallerEnd> => {
    await post('failed', { reason, log, ...extra });
    return { end: 'power-off', detail: `the installer reported a failure and powered off: ${reason}` };
  };
  try {
    const failing = machine.fail === 'hwtest-fails' ? (machine.failTest ?? tests[0]) : undefined;
    for (const name of tests) {
      const result = runHardwareTest(name, machine, name === failing, meta.hwtestDefinitions?.find((d) => d.name === name)?.run);
      emit('hwtest', `${name} ${result.status}: ${result.output}`);
      await post('hwtest-result', { ...result });
      if (result.status === 'failed') return await fail(`hardware test ${name} failed: ${result.output}`, [result.output], { failedTests: [name] });
    }
    switch (meta.step) {
      case 'commission':
        await post('commission-complete', { facts: factsOf(machine) });
        return { end: 'power-off', detail: 'commissioned; the installer powered off' };
      case 'run-hardware-tests':
        await post('tests-complete', {});
        return { end: 'power-off', detail: 'hardware tests done; the installer powered off' };
      case 'install':
        return await install(meta, ctx, post, fail);
      case 'erase': {
        // As the real installer's erase.sh reports a disk without discard: its ends zeroed.
        const { disks, diskBytes } = factsOf(machine);
        const wiped = Array.from({ length: disks }, (_, i) => ({
          disk: `sd${String.fromCharCode(97 + (i % 26))}`,
          bytes: Math.floor(diskBytes / disks),
          method: 'zero-ends',
        }));
        ctx.memory.installed = false;
        ctx.memory.seedfrom = undefined;
        for (const w of wiped) emit('erase', `${w.disk}: ${w.bytes} bytes wiped (${w.method})`);
        await post('erase-complete', { wiped });
        return { end: 'power-off', detail: 'disks erased; the installer powered off' };
      }
      default:
        return await fail(`the installer does not know step ${meta.step}`, []);
    }
  } catch (err) {
    if (!(err instanceof CallbackRefused)) throw err;
    emit('error', err.message);
    return { end: 'error', detail: err.message };
  }
}

async function install(
  meta: Metadata,
  ctx: InstallerContext,
  post: (event: string, body: Record<string, unknown>) => Promise<void>,
  fail: (reason: string, log: string[]) => Promise<InstallerEnd>,
): Promise<InstallerEnd> {
  const { machine, emit } = ctx;
  if (!meta.image?.url) return fail('no image to install: the metadata names none', []);
  const crash = machine.fail === 'crash-mid-install' && !ctx.memory.crashedInstall;
  const size = meta.image.size ?? undefined;
  const image = await ctx.http.download(meta.image.url, {
    ...ctx.call,
    corrupt: machine.fail === 'image-checksum-mismatch',
    // Without a size in the metadata, the crash comes after the first chunk.
    ...(crash ? { stopAfterBytes: size ? Math.max(1, Math.floor(size / 2)) : 1 } : {}),
  });
  if (image.status !== 200) return fail(`image download failed: ${meta.image.url} answered ${image.status}: ${image.text?.trim()}`, []);
  if (image.stopped) {
    ctx.memory.crashedInstall = true;
    emit('crash', `the machine died after ${image.bytes} bytes of the image, without a callback (injected failure crash-mid-install); it reboots`);
    return { end: 'reboot', detail: 'crashed mid-install' };
  }
  const expected = meta.image.sha256 ?? (typeof image.headers['x-sprout-sha256'] === 'string' ? image.headers['x-sprout-sha256'] : undefined);
  emit(
    'download',
    `image ${meta.image.url}: ${image.bytes} bytes, sha256 ${image.sha256}${expected ? (expected === image.sha256 ? ' (as expected)' : ` (expected ${expected})`) : ' (no sum to check)'}`,
  );
  // As the real installer: a failed check wipes what was written, so the disk boots nothing.
  if ((expected && expected !== image.sha256) || (size !== undefined && size !== image.bytes)) ctx.memory.installed = false;
  if (expected && expected !== image.sha256)
    return fail(`image checksum mismatch: expected ${expected}, got ${image.sha256}`, [
      `sha256sum: ${image.sha256} (${image.bytes} bytes from ${meta.image.url})`,
    ]);
  if (size !== undefined && size !== image.bytes) return fail(`image size mismatch: expected ${size} bytes, got ${image.bytes}`, []);
  ctx.memory.installed = true;
  ctx.memory.seedfrom = meta.cloudInit?.seedfrom;
  await post('install-complete', { sha256: image.sha256 });
  return { end: 'reboot', detail: 'installed; rebooting into the installed system' };
}

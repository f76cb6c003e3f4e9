/**
 * boot: how long a real machine takes from power-on to the agent answering its iPXE
 * script request, without and with the agent's `ra` service. A QEMU VM (SeaBIOS with the
 * iPXE ROM of its virtio NIC, and OVMF with the same NIC) boots on a namespace wire from a
 * real site agent (DHCP, TFTP, HTTP boot; `ra` in the "with ra" site), exactly as the
 * end-to-end tests do (test-support/src/e2e-site.ts, qemu.ts). Each machine is created and
 * commissioned first, so the agent holds its boot intent. Two figures from QEMU's start:
 * to the first iPXE script answered (the serial console's first "Sprout: " line, sampled
 * every 100 ms) — what ra changes — and to the agent's "http boot: commission script
 * served" log line for its MAC; a machine that asks before the agent has been given its
 * commission step first gets the waiting script, which asks again 3 s later.
 * The two sites run side by side and the order alternates per run, so both see the same
 * load. The serial console's markers say where the wait is: every "Configuring (net0 …)"
 * of iPXE, and how long it lasted until the next marker.
 */
import type { ExecutionContext } from 'ava';
import { copyFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startE2eSite, type E2eSite } from '@sprout/test-support/e2e-site.ts';
import { OVMF_VARS, startVm, writeSerconPort, type Vm } from '@sprout/test-support/qemu.ts';
import type { BenchOptions, Cleanup, Row, SuiteResult, Target } from './bench-kit.ts';

type Firmware = 'bios' | 'uefi';
type Variant = 'without ra' | 'with ra';
const firmwares: Firmware[] = ['bios', 'uefi'];
// As the end-to-end tests boot theirs (test/e2e/qemu.test.ts).
const VM = { cpus: 2, memoryMiB: 1024, diskBytes: 16 * 1024 * 1024 };
/** The with-ra boot must be at least this much quicker: iPXE's IPv6 wait is ~16 s per configure. */
const SAVING_TARGET_S = 10;
const SCRIPT_TIMEOUT_MS = 8 * 60_000;

/** What startE2eSite and createNetns use of ava's `t`: their teardowns go to the bench's cleanup. */
function benchContext(cleanup: Cleanup, what: string): ExecutionContext {
  return { teardown: (fn: () => unknown) => cleanup.add(what, fn), passed: true } as unknown as ExecutionContext;
}

interface Boot {
  firmware: Firmware;
  variant: Variant;
  /** QEMU's start → the first iPXE script answered (the serial console's first "Sprout: " line). */
  firstAnswer: number;
  /** QEMU's start → the installer's script served (the agent's log). */
  seconds: number;
  /** The machine asked before the agent had its step and got the waiting script (it asks again after 3 s). */
  waited: boolean;
  /** Each iPXE "Configuring (net0 …)": seconds until the next serial marker. */
  configureWaits: number[];
  timeline: string;
}

async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs: number, onTimeout: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = check();
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs / 1000} s\n${onTimeout()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The agent's log time (pino epoch ms) of the script served to `mac`, if it was. */
function scriptServedAt(agentLog: string, mac: string): number | undefined {
  for (const line of agentLog.split('\n')) {
    if (!line.includes('script served') || !line.includes(mac)) continue;
    try {
      const entry = JSON.parse(line) as { time?: number | string; mac?: string; msg?: string };
      if (entry.mac === mac && /script served/.test(entry.msg ?? '')) return typeof entry.time === 'number' ? entry.time : Date.parse(String(entry.time));
    } catch {
      // not a JSON line
    }
  }
  return undefined;
}

async function bootOnce(
  site: E2eSite,
  firmware: Firmware,
  variant: Variant,
  index: number,
  subnetOctet: number,
  options: BenchOptions,
  cleanup: Cleanup,
): Promise<Boot> {
  const name = `vm-${firmware}-${index}`;
  const mac = `52:54:00:18:${subnetOctet.toString(16).padStart(2, '0')}:${(index + (firmware === 'uefi' ? 0x80 : 0x10)).toString(16).padStart(2, '0')}`;
  await site.cli(
    'machine',
    'create',
    name,
    '--site',
    'lab',
    '--boot-mode',
    firmware,
    '--mac',
    mac,
    '--cpus',
    String(VM.cpus),
    '--memory-mib',
    String(VM.memoryMiB),
    '--disks',
    '1',
  );
  await site.cli('machine', 'commission', name, '--json');
  // The agent holds the boot intent and waits for the (manual) power-on: read from its own files.
  const agentFile = (file: string) => {
    try {
      return JSON.parse(readFileSync(join(site.work, 'agent', file), 'utf8'));
    } catch {
      return undefined;
    }
  };
  await waitFor(
    `the agent to hold ${name}'s commission intent`,
    () => {
      const intents: { mac: string; intent: string; machineId: string }[] = agentFile('desired-state.json')?.document?.bootIntents ?? [];
      const waits: { machineId: string }[] = agentFile('power-waits.json') ?? [];
      const intent = intents.find((b) => b.mac === mac && b.intent === 'commission');
      return intent !== undefined && waits.some((w) => w.machineId === intent.machineId);
    },
    120_000,
    () => site.agent.log().slice(-2000),
  );

  const disk = join(site.work, `${name}.disk.raw`);
  writeFileSync(disk, '');
  truncateSync(disk, VM.diskBytes);
  const serconPort = join(site.work, `${name}.sercon-port`);
  writeSerconPort(serconPort);
  const uefiVars = join(site.work, `${name}.OVMF_VARS.fd`);
  if (firmware === 'uefi') copyFileSync(OVMF_VARS, uefiVars);
  const startedAt = Date.now();
  const vm: Vm = startVm(site.ns, {
    mac,
    disk,
    memoryMiB: VM.memoryMiB,
    cpus: VM.cpus,
    serialLog: site.logFile(`${name}.serial.log`),
    serconPort,
    uefiVars: firmware === 'uefi' ? uefiVars : undefined,
    nicRom: true,
  });
  cleanup.add(`stop ${name}`, () => vm.stop());
  try {
    const servedAt = await waitFor(
      `${name} (${firmware}, ${variant}) to get its iPXE script`,
      () => scriptServedAt(site.agent.log(), mac),
      SCRIPT_TIMEOUT_MS,
      () => `serial timeline:\n${vm.timeline()}\nserial tail:\n${vm.serial().slice(-2000)}`,
    );
    await new Promise((r) => setTimeout(r, 300)); // the serial sampler's last look (it samples every 100 ms)
    const events = vm.events();
    const configureWaits = events.flatMap((e, i) => (e.label === 'iPXE configuring net0' ? [((events[i + 1]?.ms ?? servedAt - startedAt) - e.ms) / 1000] : []));
    const seconds = (servedAt - startedAt) / 1000;
    const firstAnswer = (events.find((e) => e.label === 'iPXE script from the agent')?.ms ?? servedAt - startedAt) / 1000;
    const waited = /waiting for this agent to be given its step/.test(vm.serial());
    const boot: Boot = { firmware, variant, firstAnswer, seconds, waited, configureWaits, timeline: vm.timeline() };
    options.log(
      `${firmware} ${variant}: first script answered ${firstAnswer.toFixed(1)} s, installer script served ${seconds.toFixed(1)} s after QEMU started${waited ? ' (asked before the agent had its step: waiting script first)' : ''}; iPXE configure waits ${configureWaits.map((s) => `${s.toFixed(1)} s`).join(', ') || 'none seen'}\n${boot.timeline.replace(/^/gm, '      ')}`,
    );
    return boot;
  } finally {
    await vm.stop();
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? null : sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
};

export async function bootSuite(options: BenchOptions, cleanup: Cleanup): Promise<SuiteResult> {
  const runs = options.quick ? 1 : 2;
  const sites = {} as Record<Variant, { site: E2eSite; octet: number }>;
  for (const [variant, octet] of [
    ['without ra', 100],
    ['with ra', 101],
  ] as const) {
    options.log(`site ${variant}: control plane, namespace 198.18.${octet}.0/24, agent with dhcp, tftp, http${variant === 'with ra' ? ', ra' : ''}`);
    // On PostgreSQL (a database of its own): quicker to start than PGlite on a loaded machine.
    // Once more if it fails: the helpers' start-up bounds (60 s for the control plane) are
    // tight when other work shares the cores; what failed is removed by the cleanup.
    const start = () =>
      startE2eSite(benchContext(cleanup, `boot site ${variant}`), {
        subnet: `198.18.${octet}`,
        postgres: true,
        env: {},
        yaml: 'plugins:\n  transport-http: { waitSeconds: 2 }\n',
        name: `bench-boot-${octet}`,
        ra: variant === 'with ra',
      });
    const site = await start().catch((err: Error) => {
      options.log(`site ${variant} did not start (${err.message.split('\n')[0]}); once more`);
      return start();
    });
    if (variant === 'with ra' && !/ra: answering IPv6 router solicitations/.test(site.agent.log()))
      throw new Error(`the agent's ra service did not start:\n${site.agent.log().slice(-3000)}`);
    sites[variant] = { site, octet };
  }
  const boots: Boot[] = [];
  for (let run = 0; run < runs; run++) {
    for (const firmware of firmwares) {
      const order: Variant[] = (run + firmwares.indexOf(firmware)) % 2 === 0 ? ['without ra', 'with ra'] : ['with ra', 'without ra'];
      for (const variant of order) {
        options.log(`run ${run + 1}/${runs}: ${firmware}, ${variant}`);
        boots.push(await bootOnce(sites[variant].site, firmware, variant, run, sites[variant].octet, options, cleanup));
      }
    }
  }

  const rows: Row[] = [];
  const targets: Target[] = [];
  const notes: string[] = [];
  for (const firmware of firmwares) {
    const label = firmware === 'bios' ? 'BIOS (SeaBIOS + NIC iPXE ROM)' : 'UEFI (OVMF + NIC iPXE ROM)';
    const of = (variant: Variant) => boots.filter((b) => b.firmware === firmware && b.variant === variant);
    const without = median(of('without ra').map((b) => b.firstAnswer));
    const withRa = median(of('with ra').map((b) => b.firstAnswer));
    const saving = without !== null && withRa !== null ? without - withRa : null;
    rows.push({
      metric: `${label}: power-on → first iPXE script answered, median of ${runs}`,
      unit: 's',
      better: 'lower',
      sprout: withRa,
      peers: { 'without ra': without },
    });
    rows.push({
      metric: `${label}: power-on → installer script served, median of ${runs}`,
      unit: 's',
      better: 'lower',
      sprout: median(of('with ra').map((b) => b.seconds)),
      peers: { 'without ra': median(of('without ra').map((b) => b.seconds)) },
    });
    rows.push({ metric: `${label}: first script saved by ra`, unit: 's', better: 'none', sprout: saving });
    targets.push({
      what: `${label}: the IPv6 router-solicitation wait is gone with ra (power-on → first iPXE script ≥ ${SAVING_TARGET_S} s sooner)`,
      measured:
        saving === null
          ? 'not measured'
          : `${without!.toFixed(1)} s → ${withRa!.toFixed(1)} s, saves ${saving.toFixed(1)} s (${(without! / withRa!).toFixed(2)}×)`,
      met: saving !== null && saving >= SAVING_TARGET_S,
    });
    for (const variant of ['without ra', 'with ra'] as const) {
      const waits = of(variant).map((b) => (b.configureWaits.length ? b.configureWaits.map((s) => s.toFixed(1)).join(' + ') : 'none'));
      const waitedCount = of(variant).filter((b) => b.waited).length;
      notes.push(
        `${firmware} ${variant}: iPXE "Configuring (net0 …)" lasted ${waits.join('; ')} s per boot (each configure until the next serial marker); ${waitedCount} of ${of(variant).length} asked before the agent had the commission step (waiting script, asks again after 3 s)`,
      );
    }
  }
  notes.push(
    "TCG (no KVM), 2 vCPUs, 1 GiB per VM, as the end-to-end tests; the figures grow with the machine's load (load average above). The ratio is without ÷ with.",
  );
  return { suite: 'boot', peers: ['without ra'], rows, targets, notes };
}

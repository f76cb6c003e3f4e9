/**
 * The story `sprout lab demo` tells: machines imported with the lab power switch as their
 * BMC, commissioned with hardware tests and deployed — the workflows power them (check-bmc,
 * power-on, boot-disk through the `lab` driver); nothing here presses a button — every
 * workflow step and every thing a machine does on the wire printed as it happens with
 * the time since the start, then the machines and the audit trail. It succeeds only when
 * every machine really reached `deployed` and the switch says it runs, booting its disk.
 */
import { ok, table, type ApiSchemas } from '@sprout/kernel/cli';
import type { SimulatedMachine } from '@sprout/agent/simulator';
import { followWorkflow } from '../render/workflow.ts';
import type { Lab } from './lab.ts';
import { labNetwork, labSite } from './lab.ts';

export interface DemoMachine extends SimulatedMachine {
  hostname: string;
}

type Workflow = ApiSchemas['schemas']['Workflow'];

/** The demo's machines: MACs in QEMU's locally administered range, facts of a small server. */
export function demoMachines(count: number): DemoMachine[] {
  return Array.from({ length: count }, (_, i) => ({
    hostname: `node-${String(i + 1).padStart(2, '0')}`,
    mac: `52:54:00:5e:${(((i + 1) >> 8) & 0xff).toString(16).padStart(2, '0')}:${((i + 1) & 0xff).toString(16).padStart(2, '0')}`,
    arch: 'bios' as const,
    cpus: 4,
    memoryMiB: 4096,
    disks: 1,
    diskBytes: 32 * 1024 ** 3,
  }));
}

/** Lines of the story, each starting with the seconds since the demo started. */
export class StoryTeller {
  readonly started = Date.now();

  constructor(readonly write: (line: string) => void) {}

  stamp = (): string => `+${((Date.now() - this.started) / 1000).toFixed(1).padStart(5)}s`;

  say(text: string): void {
    this.write(`${this.stamp()}  ${text}`);
  }
}

export class DemoStory {
  private readonly write: (line: string) => void;
  private readonly stamp: () => string;
  private readonly started: number;

  constructor(
    private readonly lab: Lab,
    private readonly teller: StoryTeller,
  ) {
    this.write = teller.write;
    this.stamp = teller.stamp;
    this.started = teller.started;
  }

  say(text: string): void {
    this.teller.say(text);
  }

  async run(machines: DemoMachine[]): Promise<boolean> {
    const { api, info } = this.lab;
    this.write('');
    this.write(`control plane ${info.url} (API docs ${info.url}/docs), embedded PGlite in ${info.dir}`);
    this.write(
      `site agent    DHCP ${info.services.dhcp} (relay ${info.services.relay}), TFTP ${info.services.tftp}, HTTP ${info.services.http}, DNS ${info.services.dns}`,
    );
    this.write(`power         the lab power switch ${info.services.power} is every machine's BMC (bmc.type lab)`);
    this.write(
      `installer     ${info.realInstaller ? 'real kernel + initramfs' : 'stand-in files'}; machines simulated on the wire (DHCP relay, TFTP, HTTP, callbacks)`,
    );
    this.write(`network       ${labNetwork.name} ${labNetwork.cidr} via ${labNetwork.gateway} at site ${labSite}\n`);

    const simulator = this.lab.simulator;
    if (!simulator) throw new Error('the demo needs a lab started with its simulator');
    // Plugged in, powered off: from here on only the workflows work their power.
    for (const m of machines) simulator.plugIn(m);
    const rows = machines.map((m) => ({
      site: labSite,
      hostname: m.hostname,
      arch: 'x86_64',
      bootMode: m.arch ?? 'bios',
      interfaces: [{ mac: m.mac, pxe: true }],
      bmc: { type: 'lab', address: info.services.power },
      expected: { cpus: m.cpus, memoryMiB: m.memoryMiB, disks: m.disks },
    }));
    const imported = await ok(api.typed.POST('/v1/machines/import', { body: rows }));
    this.say(`imported ${imported.rows.length} machine(s): ${machines.map((m) => `${m.hostname} (${m.mac})`).join(', ')}`);

    this.write('');
    this.say('commission with hardware tests; the workflow checks the BMC and powers the machines on through the lab power switch');
    if (
      !(await this.phase(
        machines,
        (m) => ok(api.typed.POST('/v1/machines/{id}/commission', { params: { path: { id: m.hostname } }, body: { hwtest: true } })),
        { state: 'off' },
      ))
    )
      return false;
    for (const m of machines) {
      const view = await this.machine(m.hostname);
      this.say(
        `${m.hostname} ${view.status}: ${Object.entries(view.hardware ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}; tests ${view.hardwareTests.map((t) => `${t.name} ${t.status}`).join(', ')}`,
      );
    }

    this.write('');
    this.say(`deploy image ${info.image.name} (${(info.image.bytes / 1024 ** 2).toFixed(0)} MiB, sha256 ${info.image.sha256.slice(0, 12)}…)`);
    if (
      !(await this.phase(
        machines,
        (m) => ok(api.typed.POST('/v1/machines/{id}/deploy', { params: { path: { id: m.hostname } }, body: { image: info.image.name } })),
        { state: 'on', nextBoot: 'disk' },
      ))
    )
      return false;

    this.write('');
    const views = await Promise.all(machines.map((m) => this.machine(m.hostname)));
    this.write(
      table(
        ['MACHINE', 'STATUS', 'REASON'],
        views.map((v) => [v.hostname, v.status, v.statusReason?.message ?? '']),
      ),
    );
    const audit = await ok(api.typed.GET('/v1/audit', { params: { query: { since: new Date(this.started - 60_000).toISOString(), limit: 200 } } }));
    this.write(`\naudit trail (${audit.items.length} records):`);
    this.write(
      table(
        ['AT', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME'],
        [...audit.items]
          .reverse()
          .map((r) => [r.at.slice(11, 23), r.actor, r.action, r.targetId ? `${r.targetType}:${r.targetId.slice(0, 8)}` : r.targetType, r.outcome]),
      ),
    );
    const deployed = views.filter((v) => v.status === 'deployed').length;
    this.write(
      `\n${deployed === machines.length ? 'done' : 'FAILED'}: ${deployed} of ${machines.length} machine(s) deployed in ${((Date.now() - this.started) / 1000).toFixed(1)} s`,
    );
    return deployed === machines.length;
  }

  /**
   * Starts a workflow on every machine and follows them to their end (the workflows power
   * the machines), then asks the power switch whether each machine ended as `expected`
   * (commissioned: off, its installer powered it off; deployed: on, booting its disk).
   */
  private async phase(
    machines: DemoMachine[],
    start: (m: DemoMachine) => Promise<Workflow>,
    expected: { state: 'on' | 'off'; nextBoot?: 'disk' },
  ): Promise<boolean> {
    const simulator = this.lab.simulator!;
    const workflows = await Promise.all(machines.map(start));
    const follow = machines.length === 1;
    const ends = await Promise.all(
      workflows.map((wf) =>
        followWorkflow(this.lab.api, wf.id, follow ? (line) => this.write(line) : () => undefined, { intervalMs: 200, timeoutMs: 600_000, stamp: this.stamp }),
      ),
    );
    let ok = true;
    for (const [i, end] of ends.entries()) {
      if (!follow) this.say(`${machines[i].hostname}: ${end.kind} ${end.state}${end.error ? ` — ${end.error}` : ''}`);
      if (end.state !== 'succeeded') ok = false;
    }
    if (!ok) {
      for (const m of machines) simulator.powerOff(m.mac);
      return false;
    }
    const ended = (m: DemoMachine) => {
      const seen = simulator.machineState(m.mac);
      return seen && seen.state === expected.state && (!expected.nextBoot || seen.nextBoot === expected.nextBoot) ? seen : undefined;
    };
    // The installer powers off right after its last callback: give it a moment.
    for (let tries = 0; tries < 100 && !machines.every(ended); tries++) await new Promise((r) => setTimeout(r, 100));
    for (const m of machines) {
      const seen = simulator.machineState(m.mac)!;
      const line = `power ${seen.state}, next boot ${seen.nextBoot}, ${seen.starts} start(s) (lab power switch)`;
      if (ended(m)) {
        if (follow) this.say(`${m.hostname} ${line}`);
      } else {
        this.say(`${m.hostname}: expected power ${expected.state}${expected.nextBoot ? ` booting its ${expected.nextBoot}` : ''}, the switch says ${line}`);
        ok = false;
      }
    }
    return ok;
  }

  private machine(hostname: string): Promise<ApiSchemas['schemas']['Machine']> {
    return ok(this.lab.api.typed.GET('/v1/machines/{id}', { params: { path: { id: hostname } } }));
  }
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as t from 'typanion';
import { SproutCommand, Command, Option, ok as answer } from '@sprout/kernel/cli';

/** The counters the demo prints at its end: what one commissioning and deployment moves. */
const demoMetrics = [
  'sprout_workflows_total',
  'sprout_agent_dhcp_messages_total',
  'sprout_agent_tftp_transfers_total',
  'sprout_agent_http_boot_requests_total',
  'sprout_agent_power_actions_total',
  'sprout_agent_work_items_total',
];

export class LabDemoCommand extends SproutCommand {
  static paths = [['lab', 'demo']];
  static usage = Command.Usage({
    category: 'Lab',
    description: 'Run the whole story on this machine: control plane, site agent, simulated machines commissioned and deployed',
    details:
      'Needs no root, no PostgreSQL and no NATS: the control plane runs on the embedded database, the site agent serves DHCP, TFTP, HTTP boot and DNS on free loopback ports, and the machine simulator plays the machines on the wire. ' +
      'Prints every workflow step and every machine action with the time since the start, the machines at the end and the audit trail. Exits 0 only when every machine reached `deployed`. Everything is removed afterwards unless --keep.',
    examples: [
      ['The demo', 'sprout lab demo'],
      ['Ten machines at once, keep the lab folder', 'sprout lab demo --machines 10 --keep'],
    ],
  });

  machines = Option.String('--machines', '1', {
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(1, 1000)]),
    description: 'How many simulated machines (1-1000)',
  });
  keep = Option.Boolean('--keep', false, { description: 'Keep the temporary lab folder (database, agent state, lab.log) afterwards; a --dir is always kept' });
  dir = Option.String('--dir', { description: 'Lab folder (default: a new temporary folder)' });

  async run() {
    // Loading the control plane's code takes seconds (more under load): say so before it starts, not after.
    if (!this.json) this.context.stdout.write(`${new Date().toISOString().slice(11, 19)}  loading the control plane and the site agent…\n`);
    const { Lab } = await import('../../lab/lab.ts');
    const { DemoStory, StoryTeller, demoMachines } = await import('../../lab/demo-story.ts');
    const dir = this.dir ? resolve(this.dir) : mkdtempSync(join(tmpdir(), 'sprout-lab-demo-'));
    const write = (line: string) => void (!this.json && this.context.stdout.write(`${line}\n`));
    const teller = new StoryTeller(write);
    const machines = demoMachines(this.machines);
    const single = machines.length === 1;
    const lab = await Lab.start({
      dir,
      apiPort: 0,
      simulator: true,
      onProgress: (what) => teller.say(what),
      onSimulatorEvent: (e) => single && teller.say(`  ${machines.find((m) => m.mac === e.mac)?.hostname ?? e.mac} ${e.kind.padEnd(10)} ${e.detail}`),
    });
    let ok = false;
    try {
      ok = await new DemoStory(lab, teller).run(machines);
      // What the two processes counted, as Prometheus scrapes it (docs/metrics.md).
      const samples = (await lab.metricSamples(demoMetrics)).filter((s) => s.value > 0);
      write('');
      write(`metrics after the run (${lab.info.metrics.controlPlane}, ${lab.info.metrics.agent}):`);
      for (const s of samples) write(`  ${s.process.padEnd(13)}  ${s.sample} ${s.value}`);
      if (this.json)
        this.print(
          {
            ok,
            dir,
            machines: await Promise.all(machines.map((m) => answer(lab.api.typed.GET('/v1/machines/{id}', { params: { path: { id: m.hostname } } })))),
          },
          () => '',
        );
    } finally {
      await lab.stop();
      if (!this.dir && !this.keep) rmSync(dir, { recursive: true, force: true });
      else write(`the lab folder is kept: ${dir} (lab.log has the logs)`);
    }
    return ok ? 0 : 1;
  }
}

import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';
import * as t from 'typanion';
import { powerLine } from '../../render/machine.ts';

/** `sprout machine power status|on|off|cycle <machine>`: through the site's agent and the machine's BMC. */
export class MachinePowerCommand extends SproutCommand {
  static paths = [['machine', 'power']];
  static usage = Command.Usage({
    category: 'Machines',
    description: "Read or change a machine's power through its BMC (asked by the site's agent)",
    details:
      'status asks the BMC now (--cached: the last known state, without asking). A BMC that refuses or fails exits 1 with its own message. A manual machine prints what someone must do.',
    examples: [
      ['Power state', 'sprout machine power status node-01'],
      ['Last known state', 'sprout machine power status node-01 --cached'],
      ['Soft off (ACPI shutdown)', 'sprout machine power off node-01 --soft'],
      ['Cycle', 'sprout machine power cycle node-01'],
    ],
  });

  action = Option.String({ name: 'status|on|off|cycle', validator: t.isEnum(['status', 'on', 'off', 'cycle'] as const) });
  machine = Option.String({ name: 'machine' });
  soft = Option.Boolean('--soft', false, { description: 'off only: ask the OS to shut down instead of cutting the power' });
  cached = Option.Boolean('--cached', false, { description: 'status only: the last known state, without asking the BMC' });

  async run() {
    const api = this.api().typed;
    const path = { id: this.machine };
    const answer =
      this.action === 'status'
        ? await ok(api.GET('/v1/machines/{id}/power', { params: { path, query: this.cached ? { cached: true } : {} } }))
        : await ok(api.POST('/v1/machines/{id}/power', { params: { path }, body: { action: this.action, ...(this.soft ? { soft: true } : {}) } }));
    this.print(answer, () => powerLine(answer));
  }
}

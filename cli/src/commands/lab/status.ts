import { resolve } from 'node:path';
import { SproutCommand, Command, Option, ApiClient, table, ok } from '@sprout/kernel/cli';
import { defaultLabDir, readLabState } from '../../lab/lab-state.ts';
import type { LabInfo } from '../../lab/lab.ts';

export class LabStatusCommand extends SproutCommand {
  static paths = [['lab', 'status']];
  static usage = Command.Usage({
    category: 'Lab',
    description: 'Show the running lab: its URLs, its agent and its machines (exit 1 when no lab runs)',
    examples: [
      ['Status', 'sprout lab status'],
      ['Point the CLI at the lab', 'eval "$(sprout lab status --env)"'],
    ],
  });

  dir = Option.String('--dir', { description: 'Lab folder (default ./.sprout-lab)' });
  env = Option.Boolean('--env', false, { description: 'Print only `export SPROUT_URL=… SPROUT_TOKEN=…` lines' });

  async run() {
    const dir = this.dir ? resolve(this.dir) : defaultLabDir();
    const info = readLabState(dir);
    if (!info) throw new Error(`no lab is running from ${dir}; start one with \`sprout lab up\``);
    if (this.env) {
      this.context.stdout.write(`export SPROUT_URL=${info.url}\nexport SPROUT_TOKEN=${info.token}\n`);
      return 0;
    }
    const api = new ApiClient({ url: info.url, token: info.token, source: `${dir}/lab.json` }).typed;
    const site = await ok(api.GET('/v1/sites/{id}', { params: { path: { id: 'lab' } } }));
    const machines = await ok(api.GET('/v1/machines', { params: { query: { site: 'lab', limit: 100 } } }));
    this.print({ ...info, token: undefined, agents: site.agents, machines: machines.items }, () =>
      [
        labInfoText(info),
        '',
        table(
          ['AGENT', 'STATUS', 'LAST SEEN'],
          site.agents.map((a) => [a.hostname, a.status, a.lastHeartbeatAt]),
        ),
        '',
        machines.items.length
          ? table(
              ['MACHINE', 'STATUS', 'REASON'],
              machines.items.map((m) => [m.hostname, m.status, m.statusReason?.message ?? '']),
            )
          : 'no machines yet',
      ].join('\n'),
    );
    return 0;
  }
}

/** How a running lab is described to an operator. */
export function labInfoText(info: LabInfo): string {
  const simulate = `sprout lab simulate --dhcp ${info.services.dhcp} --relay ${info.services.relay} --tftp-port ${info.services.tftp.split(':').pop()}`;
  return [
    `lab running from ${info.dir} (pid ${info.pid}, since ${info.startedAt})`,
    `  API          ${info.url}   docs ${info.url}/docs`,
    `  site agent   DHCP ${info.services.dhcp} (simulator relay ${info.services.relay}), TFTP ${info.services.tftp}, HTTP ${info.services.http}, DNS ${info.services.dns}`,
    `  metrics      ${info.metrics?.controlPlane ?? '-'} (the lab's token), ${info.metrics?.agent ?? '-'}`,
    `  image        ${info.image.name} (sha256 ${info.image.sha256})`,
    `use it:        export SPROUT_URL=${info.url} SPROUT_TOKEN=$(cat ${info.dir}/control-plane/admin-token)`,
    `play machines: ${simulate} --mac 52:54:00:5e:00:01`,
    ...(info.services.power
      ? [
          `lab power:     machines created with --bmc-type lab --bmc-address ${info.services.power} are powered by their workflows while this plays them:`,
          `               ${simulate} --power-port ${new URL(info.services.power).port} --mac 52:54:00:5e:00:02`,
        ]
      : []),
  ].join('\n');
}

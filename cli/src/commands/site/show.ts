import { SproutCommand, Command, Option, table, ok } from '@sprout/kernel/cli';

export interface Site {
  id: string;
  name: string;
  description: string;
  labels: Record<string, string>;
  agents: {
    id: string;
    hostname: string;
    version: string;
    status: string;
    lastHeartbeatAt: string | null;
    capabilities: string[];
    /** From the agent's last heartbeat: site services carry `state` (running/failed) and `error`. */
    services?: Record<string, unknown>;
    reports?: { refused: number; deadLettered: number; lastProblem: string | null; lastProblemAt: string | null };
    desiredState?: { revision: number | null; latest: number; behind: number | null; error: string | null };
  }[];
}

export class SiteShowCommand extends SproutCommand {
  static paths = [['site', 'show']];
  static usage = Command.Usage({ category: 'Sites', description: 'Show a site and the status of its agents', examples: [['Show', 'sprout site show dc1']] });

  site = Option.String({ name: 'site' });

  async run() {
    const site = await ok(this.api().typed.GET('/v1/sites/{id}', { params: { path: { id: this.site } } }));
    this.print(site, () =>
      [
        `${site.name}  (${site.id})`,
        site.description && `  ${site.description}`,
        `labels: ${
          Object.entries(site.labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ') || '-'
        }`,
        '',
        site.agents.length
          ? table(
              ['AGENT', 'HOSTNAME', 'STATUS', 'LAST HEARTBEAT', 'VERSION', 'SERVES'],
              site.agents.map((a) => [a.id, a.hostname, a.status, a.lastHeartbeatAt, a.version, servesOf(a.desiredState)]),
            )
          : 'no agents yet: start one with the join token from `sprout site join-token`',
        ...site.agents.map(siteServicesOf).filter((l): l is string => l !== null),
        ...site.agents
          .filter((a) => a.desiredState?.error)
          .map(
            (a) => `agent ${a.hostname} refused the site's desired state and serves revision ${a.desiredState!.revision ?? 'none'}: ${a.desiredState!.error}`,
          ),
        ...site.agents
          .filter((a) => a.reports && (a.reports.refused > 0 || a.reports.deadLettered > 0))
          .map(
            (a) =>
              `agent ${a.hostname}: ${a.reports!.refused} report(s) refused (another site's), ${a.reports!.deadLettered} set aside as unusable; last at ${a.reports!.lastProblemAt}: ${a.reports!.lastProblem}` +
              '\n  (see `sprout audit list --action agent.report.refused` / `agent.report.dead-lettered`)',
          ),
      ]
        .filter((l) => l !== '')
        .join('\n'),
    );
  }
}

/** "revision 12" when current, "revision 10 (2 behind 12)" when not, "nothing yet" before the first. */
function servesOf(state: Site['agents'][number]['desiredState']): string {
  if (!state) return '-';
  if (state.revision === null) return `nothing yet (latest ${state.latest})`;
  const behind = state.behind ? ` (${state.behind} behind ${state.latest})` : '';
  return `revision ${state.revision}${behind}${state.error ? ', refused a newer one' : ''}`;
}

/** Each site service of an agent (DHCP, TFTP, HTTP boot, DNS…) with its state and, when it failed, why. */
function siteServicesOf(agent: Site['agents'][number]): string | null {
  const services = Object.entries(agent.services ?? {}).filter(
    (entry): entry is [string, { state: string; error?: string }] => typeof (entry[1] as { state?: unknown } | null)?.state === 'string',
  );
  if (services.length === 0) return null;
  return `\nservices of agent ${agent.hostname}:\n${table(
    ['SERVICE', 'STATE', 'ERROR'],
    services.map(([name, s]) => [name, s.state, s.error ?? '-']),
  )}`;
}

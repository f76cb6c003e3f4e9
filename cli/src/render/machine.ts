/** How a machine reads in a terminal: status and its reason first, then the rest. */
import type { MachineView } from '@sprout/kernel';
import { table } from '@sprout/kernel/cli';

/** The API's machine representation (type only: the CLI never loads the server). */
export type Machine = MachineView & {
  statusReason: (MachineView['statusReason'] & { logTail?: string[] }) | null;
  /** `machine show` only. */
  addresses?: { address: string; network: string; interface: string | null }[];
};

/** What `GET|POST /v1/machines/{id}/power` answers. */
export interface PowerAnswer {
  machine: string;
  action: string;
  state: 'on' | 'off' | 'unknown' | null;
  checkedAt: string | null;
  bmc: { type: string; address: string | null };
  note?: string;
  awaitsPerson?: string;
  cached?: boolean;
  error?: string | null;
  powerMismatch?: string | null;
}

/** "just now", "3 min ago", "2 h ago", "4 days ago". */
export function ago(at: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - new Date(at).getTime()) / 1000));
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} days ago`;
}

/** `node-01: on (ipmi 198.18.0.2, checked just now)`; a manual machine: what someone must do. */
export function powerLine(p: PowerAnswer): string {
  const driver = [p.bmc.type, p.bmc.address].filter(Boolean).join(' ');
  const lines = [`${p.machine}: ${p.state ?? 'never checked'} (${driver}${p.checkedAt ? `, checked ${ago(p.checkedAt)}` : ''})`];
  if (p.awaitsPerson) lines.push(p.awaitsPerson);
  if (p.note) lines.push(`  ${p.note}`);
  if (p.error) lines.push(`  last check failed: ${p.error}`);
  if (p.powerMismatch) lines.push(`  warning: ${p.powerMismatch}`);
  return lines.join('\n');
}

/** The POWER cell of `machine list`: `?` never checked, `!` a mismatch with the status. */
const powerCell = (m: Machine) => `${m.power?.state ?? '?'}${m.powerMismatch ? '!' : ''}`;

/** `now`: the step its workflow is at and what it last said (see currentStep in render/workflow.ts). */
export function machineDetails(m: Machine, now?: string): string {
  const lines = [`${m.hostname}  ${m.status.toUpperCase()}${m.statusReason ? `  — ${m.statusReason.message}` : ''}`];
  if (now) lines.push(`  now: ${now}`);
  if (m.statusReason) {
    const where = [
      m.statusReason.step && `step ${m.statusReason.step}`,
      m.statusReason.workflow && `workflow ${m.statusReason.workflow}`,
      `code ${m.statusReason.code}`,
    ]
      .filter(Boolean)
      .join(', ');
    lines.push(`  reason: ${where}`);
    for (const line of m.statusReason.logTail ?? []) lines.push(`  | ${line}`);
  }
  if (m.statusDeadline) lines.push(`  watchdog fires at ${m.statusDeadline}`);
  if (m.powerMismatch) lines.push(`  warning: ${m.powerMismatch} (its BMC says ${m.power.state})`);
  lines.push(
    '',
    `id:        ${m.id}`,
    `site:      ${m.site.name}`,
    `arch:      ${m.arch} (${m.bootMode})`,
    `owner:     ${m.owner ?? '-'}`,
    `tags:      ${m.tags.join(' ') || '-'}`,
    `workflow:  ${m.currentWorkflow ?? '-'}`,
    `actions:   ${m.allowedActions.join(', ') || '-'}`,
    `bmc:       ${m.bmc ? `${[m.bmc.type, m.bmc.address].filter(Boolean).join(' ')}${m.bmc.username ? ` (user ${m.bmc.username})` : ''}; credentials: ${m.bmc.credentialsSet ? 'set' : 'not set'}` : 'none (manual power)'}`,
    `power:     ${m.power.state ?? 'never checked'}${m.power.checkedAt ? ` (checked ${ago(m.power.checkedAt)})` : ''}`,
    ...(m.power.error ? [`           last check failed: ${m.power.error}`] : []),
    `expected:  ${JSON.stringify(m.expected)}`,
    `hardware:  ${Object.keys(m.hardware).length ? JSON.stringify(m.hardware) : '(not commissioned)'}`,
    '',
    table(
      ['INTERFACE', 'MAC', 'PXE'],
      m.interfaces.map((i) => [i.name, i.mac, i.pxe ? 'yes' : '']),
    ),
  );
  if (m.addresses) {
    lines.push(
      '',
      m.addresses.length
        ? table(
            ['ADDRESS', 'NETWORK', 'INTERFACE'],
            m.addresses.map((a) => [a.address, a.network, a.interface]),
          )
        : 'addresses: none allocated',
    );
  }
  if (m.hardwareTests.length > 0) {
    lines.push(
      '',
      table(
        ['HARDWARE TEST', 'STATUS', 'TOOK', 'OUTPUT'],
        m.hardwareTests.map((h) => [h.name, h.status, `${h.durationMs} ms`, h.output.split('\n').pop()]),
      ),
    );
  }
  return lines.join('\n');
}

export function machineTable(items: Machine[]): string {
  return table(
    ['HOSTNAME', 'SITE', 'STATUS', 'POWER', 'ARCH', 'OWNER', 'TAGS', 'REASON'],
    items.map((m) => [m.hostname, m.site.name, m.status, powerCell(m), m.arch, m.owner, m.tags.join(' '), m.statusReason?.message ?? m.powerMismatch]),
  );
}

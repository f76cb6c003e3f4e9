/** How a machine reads in a terminal: status and its reason first, then the rest. */
import type { MachineView } from '@sprout/kernel';
import { table } from '@sprout/kernel/cli';

/** The API's machine representation (type only: the CLI never loads the server). */
export type Machine = MachineView & { statusReason: (MachineView['statusReason'] & { logTail?: string[] }) | null };

/** `now`: the step its workflow is at and what it last said (see currentStep in render/workflow.ts). */
export function machineDetails(m: Machine, now?: string): string {
  const lines = [`${m.hostname}  ${m.status.toUpperCase()}${m.statusReason ? `  — ${m.statusReason.message}` : ''}`];
  if (now) lines.push(`  now: ${now}`);
  if (m.statusReason) {
    const where = [m.statusReason.step && `step ${m.statusReason.step}`, m.statusReason.workflow && `workflow ${m.statusReason.workflow}`, `code ${m.statusReason.code}`].filter(Boolean).join(', ');
    lines.push(`  reason: ${where}`);
    for (const line of m.statusReason.logTail ?? []) lines.push(`  | ${line}`);
  }
  if (m.statusDeadline) lines.push(`  watchdog fires at ${m.statusDeadline}`);
  lines.push(
    '',
    `id:        ${m.id}`,
    `site:      ${m.site.name}`,
    `arch:      ${m.arch} (${m.bootMode})`,
    `owner:     ${m.owner ?? '-'}`,
    `tags:      ${m.tags.join(' ') || '-'}`,
    `workflow:  ${m.currentWorkflow ?? '-'}`,
    `actions:   ${m.allowedActions.join(', ') || '-'}`,
    `expected:  ${JSON.stringify(m.expected)}`,
    `hardware:  ${Object.keys(m.hardware).length ? JSON.stringify(m.hardware) : '(not commissioned)'}`,
    '',
    table(['INTERFACE', 'MAC', 'PXE'], m.interfaces.map((i) => [i.name, i.mac, i.pxe ? 'yes' : ''])),
  );
  if (m.hardwareTests.length > 0) {
    lines.push('', table(['HARDWARE TEST', 'STATUS', 'TOOK', 'OUTPUT'], m.hardwareTests.map((h) => [h.name, h.status, `${h.durationMs} ms`, h.output.split('\n').pop()])));
  }
  return lines.join('\n');
}

export function machineTable(items: Machine[]): string {
  return table(
    ['HOSTNAME', 'SITE', 'STATUS', 'ARCH', 'OWNER', 'TAGS', 'REASON'],
    items.map((m) => [m.hostname, m.site.name, m.status, m.arch, m.owner, m.tags.join(' '), m.statusReason?.message]),
  );
}

/** How agents' refusal reports are grouped into repeated audit records (see AuditLog.recordRepeated). */
import type { AgentReport } from '../../capabilities/transport.ts';
import type { Repeat } from '../../audit/audit-log.ts';

const MAC = /\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b/gi;

/**
 * An agent refusing machines (`boot.refused`, `dhcp.netboot-refused`) reports each MAC
 * it refuses; thousands of unknown MACs must not be thousands of audit rows. Refusals
 * of one site, kind and reason (the MAC taken out of it) share one record per window,
 * with a count and a bounded sample of the MACs (`details.macs`).
 */
export function refusalRepeat(report: AgentReport): Repeat | null {
  if (!/[.-]refused$/.test(report.kind)) return null;
  const payload = report.payload ?? {};
  const mac = typeof payload.mac === 'string' ? payload.mac.toLowerCase() : null;
  const reason = String(payload.reason ?? '').replace(MAC, '<mac>');
  // Same source, route and reason are one refusal repeated; a neighbour trying the script, the metadata and a callback is three.
  const route = typeof payload.route === 'string' ? payload.route : '';
  const source = typeof payload.source === 'string' ? payload.source : '';
  return {
    key: ['report', report.siteId, report.kind, route, source, reason, mac ? 'mac' : 'no-mac'].join('\u0000'),
    ...(mac ? { sample: { field: 'macs', value: mac } } : {}),
  };
}

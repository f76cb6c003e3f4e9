/** A DhcpResponder on a fake clock with recorded reports, and helpers to read its replies. */
import type { SiteDesiredState } from '@sprout/kernel';
import { decodeDhcp, messageType, opt, readOption, type DhcpMessage } from '../../src/agent/dhcp-codec.ts';
import { DhcpResponder, type Reply } from '../../src/agent/dhcp-responder.ts';
import { parseDhcpSettings } from '../../src/agent/dhcp-settings.ts';
import { LeaseTable } from '../../src/agent/lease-table.ts';
import { siteState } from '@sprout/test-support/dhcp-site-fixture.ts';

export interface Harness {
  responder: DhcpResponder;
  leases: LeaseTable;
  reports: { kind: string; payload: Record<string, unknown> }[];
  errors: unknown[];
  clock: { now: number };
  state: { current: SiteDesiredState };
  send(packet: Buffer): Reply[];
}

/** `services`: the agent's other services' settings, as the service host passes them (`http` is read for iPXE's URL). */
export function harness(
  settings: Record<string, unknown> = {},
  state: SiteDesiredState = siteState(),
  services?: Record<string, Record<string, unknown>>,
): Harness {
  const clock = { now: Date.parse('2026-11-26T04:00:00Z') };
  const leases = new LeaseTable(() => clock.now);
  const reports: Harness['reports'] = [];
  const errors: unknown[] = [];
  const holder = { current: state };
  const responder = new DhcpResponder({
    settings: parseDhcpSettings(
      { interfaces: ['198.18.30.1'], serverId: '198.18.30.1', ...(services ? {} : { httpBootUrl: 'http://198.18.30.1:8080' }), ...settings },
      services,
    ),
    leases,
    now: () => clock.now,
    desiredState: () => holder.current,
    report: (kind, payload) => reports.push({ kind, payload }),
    localAddresses: () => (settings.interfaces as string[] | undefined) ?? ['198.18.30.1'],
    onLeasesChanged: () => {},
    onError: (err) => errors.push(err),
  });
  return { responder, leases, reports, errors, clock, state: holder, send: (packet) => responder.handle(packet, { address: '0.0.0.0', port: 68 }) };
}

/** The one reply, decoded; throws when there is not exactly one. */
export function only(replies: Reply[]): DhcpMessage & { to: string; port: number; via?: string; afterLeaseWrite?: boolean; type: number | undefined } {
  if (replies.length !== 1) throw new Error(`expected one reply, got ${replies.length}`);
  const m = decodeDhcp(replies[0]!.packet);
  const { address: to, port, via, afterLeaseWrite } = replies[0]!;
  return { ...m, to, port, via, afterLeaseWrite, type: messageType(m) };
}

export const text = (m: DhcpMessage, code: number): string | undefined => readOption.text(m.options.get(code));
export const address = (m: DhcpMessage, code: number): string | undefined => readOption.address(m.options.get(code));
export const addresses = (m: DhcpMessage, code: number): string[] | undefined => {
  const v = m.options.get(code);
  return v ? [...Array(v.length / 4).keys()].map((i) => readOption.address(v.subarray(i * 4, i * 4 + 4))!) : undefined;
};
export { opt };

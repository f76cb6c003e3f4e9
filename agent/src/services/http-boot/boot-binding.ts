/**
 * Binds a machine's boot to the address this agent's DHCP leased it: the iPXE script
 * that carries a per-boot token, and the metadata and callbacks that take the token, are
 * answered only to the source address now bound to the machine's MAC. The source is the
 * TCP peer's address; headers (X-Forwarded-For and the like) are never read for this.
 */
import type { AgentLeases } from '@sprout/kernel/sdk';

export interface BootBinding {
  /** `services.http.bindBootToLease` (default true). */
  enabled: boolean;
  leases: AgentLeases | undefined;
}

/** The peer's IPv4 address as DHCP leased it (a dual-stack socket reports `::ffff:a.b.c.d`). */
export function peerAddress(remote: string | undefined): string {
  return (remote ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}

/** Why `source` may not have `mac`'s boot (`mac` undefined: the token's machine names none here), or undefined when it may. */
export function bindingRefusal(binding: BootBinding, mac: string | undefined, source: string): string | undefined {
  if (!binding.enabled) return undefined;
  if (mac === undefined) return "no boot intent here names this machine's MAC, so its token is bound to no lease";
  const lookup = binding.leases?.lookup();
  if (!lookup) {
    return `this agent runs no DHCP service to say which address ${mac} was leased, and services.http.bindBootToLease is on: run the agent's dhcp service, or set bindBootToLease: false where an external DHCP server leases the addresses`;
  }
  const leased = lookup.addressOf(mac);
  // The leased address itself is not said: the answer goes to whoever asked.
  if (leased === undefined) return `${mac} holds no lease from this agent's DHCP: a machine asks for its boot from the address it was leased`;
  if (leased !== source) return `${mac} is not leased to ${source}: a machine asks for its boot from the address it was leased`;
  return undefined;
}

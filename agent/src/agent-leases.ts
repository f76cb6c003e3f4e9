/**
 * The agent's one lease authority: the site service that leases addresses (the builtin
 * `dhcp`) registers a lookup while it runs, and HTTP boot asks it which address a MAC
 * holds. It only passes questions through; it never keeps leases of its own.
 */
import type { AgentLeaseLookup, AgentLeases } from '@sprout/kernel/sdk';

export function agentLeases(): AgentLeases {
  let current: AgentLeaseLookup | undefined;
  return {
    provide(lookup) {
      if (current) throw new Error('another service of this agent already leases addresses: run one DHCP service per agent');
      current = lookup;
      return () => {
        if (current === lookup) current = undefined;
      };
    },
    lookup: () => current,
  };
}

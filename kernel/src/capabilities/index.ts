/** The capabilities the kernel knows. A plugin's `provides` and `consumes` name these ids. */
import { ipamCapability } from './ipam.ts';
import { dhcpCapability } from './dhcp.ts';
import { dnsCapability } from './dns.ts';
import { hwtestCapability } from './hwtest.ts';
import { allocationCapability } from './allocation.ts';
import { transportCapability } from './transport.ts';
import { powerCapability } from './power.ts';
import type { Capability } from './define-capability.ts';

export const kernelCapabilities: readonly Capability<unknown>[] = Object.freeze([
  ipamCapability,
  dhcpCapability,
  dnsCapability,
  hwtestCapability,
  allocationCapability,
  transportCapability,
  powerCapability,
]);

export * from './define-capability.ts';
export * from './ipam.ts';
export * from './dhcp.ts';
export * from './dns.ts';
export * from './hwtest.ts';
export * from './allocation.ts';
export * from './transport.ts';
export * from './power.ts';
export * from './dns-records.ts';

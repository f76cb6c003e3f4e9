/**
 * `@sprout/kernel/testing`: contract suites a provider plugin runs in its own tests to
 * show it honours a capability. Test-only: nothing at run time imports it.
 */
export { ipamContract, kernelIpamSubject, type IpamContractOptions, type IpamContractSubject } from './ipam-contract.ts';
export * from './transport-contract.ts';
export { dhcpContract, kernelDhcpSubject, type DhcpContractOptions, type DhcpContractSubject } from './dhcp-contract.ts';
export { dnsContract, kernelDnsSubject, type DnsContractOptions, type DnsContractSubject } from './dns-contract.ts';
export { powerContract, type PowerContractOptions, type PowerContractSubject } from './power-contract.ts';

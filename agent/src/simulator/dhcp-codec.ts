/**
 * The DHCP codec the simulator's machines speak: the agent's own DHCP server's, so both
 * ends of the wire read one definition. The builtin plugin does not export it as a
 * subpath, hence the path into its source (both live in this repository).
 */
export * from '../../../plugins/dhcp-builtin/src/agent/dhcp-codec.ts';

/**
 * The DHCP codec the simulator's machines speak: the agent's own DHCP server's, so both
 * ends of the wire read one definition (the builtin plugin's `./dhcp-codec` subpath).
 */
export * from '@sprout/plugin-dhcp-builtin/dhcp-codec';

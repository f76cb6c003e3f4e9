/**
 * A capability is a typed reference to something a plugin provides (an IPAM, a DHCP
 * backend…). Plugins and the kernel name capabilities by these refs, never by string, so
 * a provider's type and the consumer's expectation are the same TypeScript type.
 */
export type Cardinality = 'one' | 'many';

export interface Capability<T> {
  readonly id: string;
  /** `one`: exactly one active provider (chosen by config); `many`: every provider is active. */
  readonly cardinality: Cardinality;
  readonly description: string;
  /** Phantom field carrying the provider type; never set at run time. */
  readonly __provider?: T;
}

export type ProviderOf<C> = C extends Capability<infer T> ? T : never;

export function defineCapability<T>(spec: { id: string; cardinality: Cardinality; description: string }): Capability<T> {
  return Object.freeze({ ...spec });
}

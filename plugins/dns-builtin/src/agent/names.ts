/** Name lookups shared by the zone builder and the answer table (kept free of the kernel, so the UDP workers load little). */

/** The longest served zone that contains `name`: the zone an answer for it comes from. */
export function enclosingZone(name: string, zones: ReadonlyMap<string, unknown>): string | undefined {
  let candidate = name;
  for (;;) {
    if (zones.has(candidate)) return candidate;
    const dot = candidate.indexOf('.');
    if (dot < 0) return undefined;
    candidate = candidate.slice(dot + 1);
  }
}

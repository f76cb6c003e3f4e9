/**
 * The DHCP server's leases and quarantined addresses. It keeps the one rule that
 * matters most: an address is held by at most one MAC and a MAC holds at most one
 * address, whatever order offers, acks, releases and expiries arrive in.
 */

export interface Lease {
  mac: string;
  address: string;
  networkId: string;
  /** `offered`: held for the client's REQUEST; `bound`: acknowledged. */
  state: 'offered' | 'bound';
  /** Milliseconds since the epoch. */
  expiresAt: number;
  /** PXE client UUID/GUID (option 97), hex. */
  uuid?: string;
  hostname?: string;
  /** The MAC had no reservation; the address came from a dynamic range. */
  dynamic: boolean;
}

export interface LeaseSnapshot {
  leases: Lease[];
  quarantine: { address: string; until: number }[];
}

/** One change to what the lease file must hold, in the order it happened (see lease-file.ts). */
export type LeaseChange = { put: Lease } | { remove: string } | { quarantine: { address: string; until: number } };

export class LeaseTable {
  private readonly byMac = new Map<string, Lease>();
  private readonly holderOf = new Map<string, string>();
  private readonly quarantined = new Map<string, number>();
  /**
   * Offers to unknown MACs → their expiry, in the order they were made. Every offer lasts
   * the same offerSeconds, so this is also expiry order: counting them only drops expired
   * ones from the front instead of looking at every pending offer per DISCOVER.
   */
  private readonly unknownOffers = new Map<string, number>();
  /** Changes to bound leases and quarantine not yet taken for the lease file. */
  private changes: LeaseChange[] = [];
  private freedCount = 0;

  constructor(private readonly now: () => number) {}

  /**
   * Goes up each time an address stops being held (a lease released, declined, expired
   * or replaced, an offer withdrawn or lapsed, a quarantine over): a search that found
   * a range full is worth repeating only once this moved.
   */
  get freed(): number {
    return this.freedCount;
  }

  /** The changes since the last call, for the lease file; the caller owns them now. */
  takeChanges(): LeaseChange[] {
    const taken = this.changes;
    this.changes = [];
    return taken;
  }

  hasChanges(): boolean {
    return this.changes.length > 0;
  }

  /** Gives back changes the lease file could not take, ahead of any made since. */
  returnChanges(changes: LeaseChange[]): void {
    this.changes = [...changes, ...this.changes];
  }

  /** The MAC's live lease; an expired one is dropped first. */
  get(mac: string): Lease | undefined {
    const lease = this.byMac.get(mac);
    if (lease && lease.expiresAt <= this.now()) {
      this.remove(mac);
      return undefined;
    }
    return lease;
  }

  /** The MAC holding a live lease on the address. */
  holder(address: string): string | undefined {
    const mac = this.holderOf.get(address);
    return mac !== undefined && this.get(mac) ? mac : undefined;
  }

  isQuarantined(address: string): boolean {
    const until = this.quarantined.get(address);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.quarantined.delete(address);
    this.freedCount += 1;
    return false;
  }

  /** Records a lease, replacing the MAC's previous one. Refuses an address another MAC holds. */
  put(lease: Lease): void {
    const other = this.holder(lease.address);
    if (other !== undefined && other !== lease.mac) throw new Error(`address ${lease.address} is held by ${other}; refusing to give it to ${lease.mac}`);
    const previous = this.detach(lease.mac);
    this.byMac.set(lease.mac, lease);
    this.holderOf.set(lease.address, lease.mac);
    if (lease.dynamic && lease.state === 'offered') this.unknownOffers.set(lease.mac, lease.expiresAt);
    if (previous && previous.address !== lease.address) this.freedCount += 1;
    if (lease.state === 'bound') this.changes.push({ put: { ...lease } });
    else if (previous?.state === 'bound') this.changes.push({ remove: lease.mac });
  }

  remove(mac: string): Lease | undefined {
    const lease = this.detach(mac);
    if (!lease) return undefined;
    this.freedCount += 1;
    if (lease.state === 'bound') this.changes.push({ remove: mac });
    return lease;
  }

  private detach(mac: string): Lease | undefined {
    const lease = this.byMac.get(mac);
    if (!lease) return undefined;
    this.byMac.delete(mac);
    if (this.holderOf.get(lease.address) === mac) this.holderOf.delete(lease.address);
    this.unknownOffers.delete(mac);
    return lease;
  }

  quarantine(address: string, until: number): void {
    this.quarantined.set(address, until);
    this.changes.push({ quarantine: { address, until } });
  }

  /** Offers to unknown MACs still waiting for a REQUEST. */
  pendingUnknownOffers(): number {
    const now = this.now();
    for (const [mac, expiresAt] of this.unknownOffers) {
      if (expiresAt > now) break;
      // Expired: the lease goes too (get drops it), or, if it is no longer this offer, only the entry.
      if (this.get(mac)) this.unknownOffers.delete(mac);
    }
    return this.unknownOffers.size;
  }

  /** Removes every expired lease and returns the bound ones among them (offers lapse silently). */
  sweep(): Lease[] {
    const now = this.now();
    const expired: Lease[] = [];
    for (const lease of [...this.byMac.values()]) {
      if (lease.expiresAt > now) continue;
      this.remove(lease.mac);
      if (lease.state === 'bound') expired.push(lease);
    }
    for (const [address, until] of this.quarantined) {
      if (until > now) continue;
      this.quarantined.delete(address);
      this.freedCount += 1;
    }
    return expired;
  }

  counts(): { bound: number; offered: number; quarantined: number } {
    let bound = 0;
    for (const lease of this.byMac.values()) if (lease.state === 'bound') bound += 1;
    return { bound, offered: this.byMac.size - bound, quarantined: this.quarantined.size };
  }

  /** Bound leases and quarantine, for the lease file; offers are not worth keeping across a restart. */
  snapshot(): LeaseSnapshot {
    return {
      leases: [...this.byMac.values()].filter((l) => l.state === 'bound').map((l) => ({ ...l })),
      quarantine: [...this.quarantined].map(([address, until]) => ({ address, until })),
    };
  }

  /** Loads a snapshot; expired entries and any second claim on an address are skipped. It is already on disk: no changes. */
  restore(snapshot: LeaseSnapshot): void {
    const now = this.now();
    for (const lease of snapshot.leases) {
      if (lease.expiresAt <= now || this.holder(lease.address) !== undefined || this.byMac.has(lease.mac)) continue;
      this.put({ ...lease, state: 'bound' });
    }
    for (const { address, until } of snapshot.quarantine) if (until > now) this.quarantined.set(address, until);
    this.changes = [];
  }
}

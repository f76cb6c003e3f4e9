/**
 * Resolved bearer tokens, remembered for a few seconds so a busy client does not cost a
 * token lookup per request. Only tokens that resolved to a principal are kept (an
 * attacker guessing secrets adds nothing), keyed by the secret's hash, at most
 * `maxEntries` of them, the least recently filled forgotten first. A token's own
 * expiry is checked on every use, to the millisecond; a revocation made elsewhere
 * (another control-plane instance) is seen once the entry is `ttlMs` old.
 */
import type { Principal } from './principal.ts';

export interface CachedPrincipal {
  principal: Principal;
  /** Epoch ms at which the token expires, or null. */
  expiresAt: number | null;
  /** Epoch ms of the last `last_used_at` this process knows was written. */
  lastUsedAt: number | null;
}

interface Entry extends CachedPrincipal {
  freshUntil: number;
}

export class PrincipalCache {
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every `forget`: a lookup that began before it must not store what it read. */
  private generation = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  /** The entry for `secretHash` while it is fresh and its token unexpired. */
  get(secretHash: string): CachedPrincipal | undefined {
    const entry = this.entries.get(secretHash);
    if (!entry) return undefined;
    const now = this.now();
    if (now >= entry.freshUntil || (entry.expiresAt !== null && entry.expiresAt <= now)) {
      this.entries.delete(secretHash);
      return undefined;
    }
    return entry;
  }

  /** A mark to take before reading the token, for `put`. */
  mark(): number {
    return this.generation;
  }

  /** Remembers what a lookup begun at `mark` found, unless a token was forgotten meanwhile. */
  put(secretHash: string, mark: number, value: CachedPrincipal): void {
    if (mark !== this.generation) return;
    this.entries.delete(secretHash);
    this.entries.set(secretHash, { ...value, freshUntil: this.now() + this.ttlMs });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Drops every entry of the token `tokenId` (revoked); lookups still running will not store theirs. */
  forget(tokenId: string): void {
    this.generation++;
    for (const [hash, entry] of this.entries) if (entry.principal.tokenId === tokenId) this.entries.delete(hash);
  }
}

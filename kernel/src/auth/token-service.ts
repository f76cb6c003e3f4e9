/**
 * API tokens: random secrets shown once at creation and stored only as SHA-256 hashes.
 * A bearer token resolves to a principal with a role; unknown, revoked and expired
 * tokens resolve to nothing. Resolved tokens are remembered for `PRINCIPAL_TTL_MS`:
 * revoking through this process takes effect at once, through another control-plane
 * instance within that time; expiry is exact everywhere.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { SproutError } from '../errors/index.ts';
import type { Principal, Role } from './principal.ts';
import { PrincipalCache } from './principal-cache.ts';

export interface ApiToken {
  id: string;
  name: string;
  role: Role;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const PREFIX = 'sprout_';
const LAST_USED_RESOLUTION_MS = 60_000;
export const PRINCIPAL_TTL_MS = 2_000;
const PRINCIPAL_CACHE_ENTRIES = 1_000;

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function newSecret(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

export class TokenService {
  private readonly principals: PrincipalCache;

  constructor(
    private readonly db: Knex,
    private readonly now: () => number = Date.now,
  ) {
    this.principals = new PrincipalCache(PRINCIPAL_TTL_MS, PRINCIPAL_CACHE_ENTRIES, now);
  }

  /** Creates a token; the returned `secret` exists nowhere else. */
  async create(
    input: { name: string; role: Role; createdBy: string; expiresAt?: Date | null; secret?: string },
    trx: Knex | Knex.Transaction = this.db,
  ): Promise<{ token: ApiToken; secret: string }> {
    const secret = input.secret ?? newSecret();
    const existing = await trx('api_tokens').where({ name: input.name }).first();
    if (existing)
      throw new SproutError('SPROUT_ERR_CONFLICT', `a token named "${input.name}" already exists`, { details: [{ field: 'name', message: 'already taken' }] });
    const [row] = await trx('api_tokens')
      .insert({
        id: randomUUID(),
        name: input.name,
        role: input.role,
        secret_hash: hashSecret(secret),
        created_by: input.createdBy,
        expires_at: input.expiresAt ?? null,
      })
      .returning('*');
    return { token: toToken(row), secret };
  }

  async authenticate(secret: string): Promise<Principal | null> {
    const hash = hashSecret(secret);
    const cached = this.principals.get(hash);
    if (cached) {
      this.noteUse(cached);
      return cached.principal;
    }
    const mark = this.principals.mark();
    const row = await this.db('api_tokens').where({ secret_hash: hash }).first();
    if (!row || row.revoked_at) return null;
    const expiresAt = row.expires_at ? new Date(row.expires_at).getTime() : null;
    if (expiresAt !== null && expiresAt <= this.now()) return null;
    const resolved = {
      principal: { kind: 'token', actor: `token:${row.name}`, role: row.role, tokenId: row.id } as Principal,
      expiresAt,
      lastUsedAt: row.last_used_at ? new Date(row.last_used_at).getTime() : null,
    };
    this.noteUse(resolved);
    this.principals.put(hash, mark, resolved);
    return resolved.principal;
  }

  /**
   * Last use is informative only (to the minute): a write per request would cost more
   * than the request. Losing a race here loses nothing.
   */
  private noteUse(token: { principal: Principal; lastUsedAt: number | null }): void {
    const now = this.now();
    if (token.lastUsedAt !== null && now - token.lastUsedAt <= LAST_USED_RESOLUTION_MS) return;
    token.lastUsedAt = now;
    void this.db('api_tokens')
      .where({ id: token.principal.tokenId })
      .update({ last_used_at: this.db.fn.now() })
      .catch(() => undefined);
  }

  async list(): Promise<ApiToken[]> {
    return (await this.db('api_tokens').orderBy('created_at')).map(toToken);
  }

  async count(): Promise<number> {
    const row = await this.db('api_tokens').count<{ count: number }[]>('* as count').first();
    return Number(row?.count ?? 0);
  }

  /**
   * Revokes a token, but never the last active admin token: with none left nobody could
   * create tokens again (SPROUT_ADMIN_TOKEN only installs on an empty database). Revokes
   * are serialised by a transaction-scoped lock, so two racing revokes of the last two
   * admin tokens leave one. Pass a transaction: the lock lasts as long as it does.
   */
  async revoke(idOrName: string, trx: Knex | Knex.Transaction = this.db): Promise<ApiToken> {
    if (!('executionPromise' in trx)) return this.db.transaction((own) => this.revoke(idOrName, own));
    await trx.raw('select pg_advisory_xact_lock(?)', [ADMIN_TOKENS_LOCK]);
    const row = await trx('api_tokens')
      .where(isUuid(idOrName) ? { id: idOrName } : { name: idOrName })
      .first();
    if (!row) throw new SproutError('SPROUT_ERR_NOT_FOUND', `no token "${idOrName}"`);
    if (row.role === 'admin' && !row.revoked_at && (await this.activeAdmins(trx, row.id)) === 0 && isActive(row, this.now())) {
      throw new SproutError(
        'SPROUT_ERR_CONFLICT',
        `token ${row.name} is the last active admin token; revoking it would lock every admin out. Create another admin token first (sprout token create --role admin), then revoke this one`,
        { context: { lastAdminToken: row.id }, details: [{ field: 'id', message: 'the last active admin token cannot be revoked' }] },
      );
    }
    const [updated] = await trx('api_tokens')
      .where({ id: row.id })
      .update({ revoked_at: row.revoked_at ?? trx.fn.now() })
      .returning('*');
    // Forgotten now, and again once the revocation commits: a lookup that read the row
    // before the commit must not keep the token alive in this process.
    this.principals.forget(row.id);
    if ('executionPromise' in trx)
      void trx.executionPromise.then(
        () => this.principals.forget(row.id),
        () => undefined,
      );
    return toToken(updated);
  }

  /** Unrevoked, unexpired admin tokens other than `except`. */
  private async activeAdmins(trx: Knex.Transaction, except: string): Promise<number> {
    const row = await trx('api_tokens')
      .where({ role: 'admin' })
      .whereNull('revoked_at')
      .whereNot({ id: except })
      .where((q) => q.whereNull('expires_at').orWhere('expires_at', '>', new Date(this.now())))
      .count<{ count: number }[]>('* as count')
      .first();
    return Number(row?.count ?? 0);
  }
}

/** Serialises revocations (and anything else that must see the set of admin tokens hold still). */
export const ADMIN_TOKENS_LOCK = 7480002;

function isActive(row: { revoked_at: unknown; expires_at: unknown }, now: number): boolean {
  return !row.revoked_at && (!row.expires_at || new Date(row.expires_at as string).getTime() > now);
}

function isUuid(s: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
}

const iso = (v: unknown): string | null => (v ? new Date(v as string).toISOString() : null);

function toToken(row: any): ApiToken {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    createdBy: row.created_by,
    createdAt: iso(row.created_at)!,
    expiresAt: iso(row.expires_at),
    lastUsedAt: iso(row.last_used_at),
    revokedAt: iso(row.revoked_at),
  };
}

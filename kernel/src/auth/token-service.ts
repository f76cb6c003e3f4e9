/**
 * API tokens: random secrets shown once at creation and stored only as SHA-256 hashes.
 * A bearer token resolves to a principal with a role; unknown, revoked and expired
 * tokens resolve to nothing.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { SproutError } from '../errors/index.ts';
import type { Principal, Role } from './principal.ts';

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

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function newSecret(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

export class TokenService {
  constructor(private readonly db: Knex) {}

  /** Creates a token; the returned `secret` exists nowhere else. */
  async create(
    input: { name: string; role: Role; createdBy: string; expiresAt?: Date | null; secret?: string },
    trx: Knex | Knex.Transaction = this.db,
  ): Promise<{ token: ApiToken; secret: string }> {
    const secret = input.secret ?? newSecret();
    const existing = await trx('api_tokens').where({ name: input.name }).first();
    if (existing) throw new SproutError('SPROUT_ERR_CONFLICT', `a token named "${input.name}" already exists`, { details: [{ field: 'name', message: 'already taken' }] });
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
    const row = await this.db('api_tokens').where({ secret_hash: hashSecret(secret) }).first();
    if (!row || row.revoked_at) return null;
    if (row.expires_at && new Date(row.expires_at).getTime() <= Date.now()) return null;
    // Last use is informative only (to the minute): a write per request would cost more
    // than the request. Losing a race here loses nothing.
    if (!row.last_used_at || Date.now() - new Date(row.last_used_at).getTime() > LAST_USED_RESOLUTION_MS) {
      void this.db('api_tokens').where({ id: row.id }).update({ last_used_at: this.db.fn.now() }).catch(() => undefined);
    }
    return { kind: 'token', actor: `token:${row.name}`, role: row.role, tokenId: row.id };
  }

  async list(): Promise<ApiToken[]> {
    return (await this.db('api_tokens').orderBy('created_at')).map(toToken);
  }

  async count(): Promise<number> {
    const row = await this.db('api_tokens').count<{ count: number }[]>('* as count').first();
    return Number(row?.count ?? 0);
  }

  async revoke(idOrName: string, trx: Knex | Knex.Transaction = this.db): Promise<ApiToken> {
    const row = await trx('api_tokens').where(isUuid(idOrName) ? { id: idOrName } : { name: idOrName }).first();
    if (!row) throw new SproutError('SPROUT_ERR_NOT_FOUND', `no token "${idOrName}"`);
    const [updated] = await trx('api_tokens').where({ id: row.id }).update({ revoked_at: row.revoked_at ?? trx.fn.now() }).returning('*');
    return toToken(updated);
  }
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

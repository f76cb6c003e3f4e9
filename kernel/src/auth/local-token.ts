/**
 * Recovering admin access: creates a token straight in the database, without the API,
 * for an operator on the server's machine who can read its config (and so its database).
 * It is the way back in when no admin token is left; it is audited like any creation,
 * with the local OS user as the actor. It never bypasses the data directory's lock.
 */
import { userInfo } from 'node:os';
import { openStore, type Store } from '../store/open-store.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { createHooks } from '../hooks/hooks.ts';
import { SproutError, isSproutError } from '../errors/index.ts';
import type { SproutConfig } from '../config/schema.ts';
import type { Role } from './principal.ts';
import { TokenService, type ApiToken } from './token-service.ts';

export interface LocalTokenInput {
  name: string;
  role: Role;
  expiresAt?: Date | null;
}

/** `local:<os user>`: who created a token without the API. */
export function localActor(): string {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry (a container's arbitrary uid): keep $USER */
  }
  return `local:${user}`;
}

export async function createTokenLocally(
  config: Pick<SproutConfig, 'dataDir' | 'database'>,
  input: LocalTokenInput,
): Promise<{ token: ApiToken; secret: string; database: string }> {
  let store: Store;
  try {
    store = await openStore({ databaseUrl: config.database.url, dataDir: config.dataDir });
  } catch (err) {
    if (isSproutError(err, 'SPROUT_ERR_DATA_DIR_LOCKED')) {
      throw new SproutError(
        'SPROUT_ERR_DATA_DIR_LOCKED',
        `the embedded database in ${config.dataDir} is open in a running process (pid ${String(err.context.pid ?? '?')}), most likely \`sprout server\`: PGlite lets only one process open it. Stop the server, run this again, then start the server`,
        { context: err.context, cause: err },
      );
    }
    throw err;
  }
  try {
    if (!(await store.db.schema.hasTable('api_tokens')) || !(await store.db.schema.hasTable('audit_records'))) {
      throw new SproutError(
        'SPROUT_ERR_CONFIG',
        `${store.location} holds no Sprout database yet; start \`sprout server\` once (or run \`sprout db migrate\`) with this config first`,
      );
    }
    const tokens = new TokenService(store.db);
    const audit = new AuditLog(store.db, createHooks());
    const actor = localActor();
    const created = await store.db.transaction(async (trx) => {
      const made = await tokens.create({ name: input.name, role: input.role, createdBy: actor, expiresAt: input.expiresAt ?? null }, trx);
      await audit.record(
        {
          actor,
          action: 'token.create',
          targetType: 'token',
          targetId: made.token.id,
          outcome: 'success',
          details: { name: input.name, role: input.role, expiresAt: input.expiresAt?.toISOString() ?? null, source: 'local' },
        },
        trx,
      );
      return made;
    });
    return { ...created, database: store.location };
  } finally {
    await store.close();
  }
}

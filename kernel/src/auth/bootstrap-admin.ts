/**
 * First start: with no token in the database, create an admin token so the operator can
 * get in. It is written to `<dataDir>/admin-token` (mode 0600), or taken from
 * SPROUT_ADMIN_TOKEN / `auth.adminToken`; it is never logged.
 */
import { writeFileSync, chmodSync } from 'node:fs';
import { ensurePrivateDir } from '../store/private-dir.ts';
import { join } from 'node:path';
import type { Knex } from 'knex';
import type { AuditLog } from '../audit/audit-log.ts';
import type { TokenService } from './token-service.ts';

export function adminTokenFile(dataDir: string): string {
  return join(dataDir, 'admin-token');
}

export async function bootstrapAdmin(input: {
  db: Knex;
  tokens: TokenService;
  audit: AuditLog;
  dataDir: string;
  adminToken?: string;
}): Promise<{ created: boolean; file: string | null }> {
  return input.db.transaction(async (trx) => {
    // Serialise concurrent first starts of several replicas.
    await trx.raw('select pg_advisory_xact_lock(7480001)');
    const row = await trx('api_tokens').count<{ count: number }[]>('* as count').first();
    if (Number(row?.count ?? 0) > 0) return { created: false, file: null };
    const { token, secret } = await input.tokens.create({ name: 'bootstrap-admin', role: 'admin', createdBy: 'system', secret: input.adminToken }, trx);
    await input.audit.record(
      {
        actor: 'system',
        action: 'token.create',
        targetType: 'token',
        targetId: token.id,
        outcome: 'success',
        details: { name: token.name, role: 'admin', source: input.adminToken ? 'configured' : 'generated' },
      },
      trx,
    );
    if (input.adminToken) return { created: true, file: null };
    ensurePrivateDir(input.dataDir);
    const file = adminTokenFile(input.dataDir);
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    return { created: true, file };
  });
}

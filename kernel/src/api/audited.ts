/**
 * Mutations from route handlers: `audited(request, fn)` runs `fn` in a transaction and
 * writes the audit record in the same transaction, so the change and its record commit
 * together or not at all. Mutating requests that end before or without it (bad input,
 * a failed change) still get a `failed` record after the response.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import type { AuditEntry, AuditLog } from '../audit/audit-log.ts';
import { actionOf, targetIdOf } from './guard.ts';
import { mutatingMethods } from './route-auth.ts';

export interface AuditedChange<T> {
  result: T;
  targetId?: string | null;
  details?: Record<string, unknown>;
}

export type Audited = <T>(request: FastifyRequest, change: (trx: Knex.Transaction) => Promise<AuditedChange<T>>) => Promise<T>;

/** The `success` record of a request's change: who asked, for what, from where. */
export function successEntry(request: FastifyRequest, change: { targetId?: string | null; details?: Record<string, unknown> }): AuditEntry {
  return {
    actor: request.principal.actor,
    actorRole: request.principal.role,
    action: actionOf(request),
    targetType: request.routeOptions.config.auth?.target ?? null,
    targetId: change.targetId ?? targetIdOf(request),
    requestId: String(request.id),
    sourceAddress: request.ip,
    outcome: 'success',
    details: change.details ?? {},
  };
}

export function createAudited(db: Knex, audit: AuditLog): Audited {
  return async (request, change) => {
    const result = await db.transaction(async (trx) => {
      const outcome = await change(trx);
      await audit.record(successEntry(request, outcome), trx);
      return outcome.result;
    });
    request.audited = true;
    return result;
  };
}

/**
 * The safety net for mutating requests that did not reach a successful `audited` call.
 * The record is written before the answer leaves, so a client that reads the audit
 * trail right after a refusal finds it there.
 */
export function installFailedMutationAudit(app: FastifyInstance, audit: AuditLog): void {
  app.addHook('onSend', async (request, reply) => {
    const auth = request.routeOptions.config.auth;
    if (request.audited || !mutatingMethods.has(request.method) || !auth || auth.audit === false) return;
    await audit
      .record({
        actor: request.principal?.actor ?? 'anonymous',
        actorRole: request.principal?.role ?? null,
        action: actionOf(request),
        targetType: auth.target ?? null,
        targetId: targetIdOf(request),
        requestId: String(request.id),
        sourceAddress: request.ip,
        outcome: reply.statusCode < 400 ? 'success' : reply.statusCode === 401 || reply.statusCode === 403 ? 'denied' : 'failed',
        details: { status: reply.statusCode, ...(reply.statusCode >= 400 ? { error: request.failure ?? null } : {}) },
      })
      .catch((err) => request.log.error({ err }, 'could not write the audit record of a failed request'));
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    /** `code: detail` of the error this request ended with, for its audit record. */
    failure?: string;
  }
}

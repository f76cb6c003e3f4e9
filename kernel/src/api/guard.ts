/**
 * The request guard: resolves the bearer token to a principal, checks the route's role,
 * then lets `authorize` taps deny. Every refusal is audited (outcome `denied`) and
 * answered with problem+json — 401 without valid credentials, 403 without permission.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { anonymous, hasRole, type Principal } from '../auth/principal.ts';
import type { TokenService } from '../auth/token-service.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { KernelHooks } from '../hooks/hooks.ts';
import { isSproutError } from '../errors/index.ts';
import { problem, sendProblem } from './problem.ts';
import type { RouteAuth } from './route-auth.ts';
import { AuthFailureLimiter } from '../auth/auth-failure-limiter.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
    /** Set once the handler wrote the audit record for this request. */
    audited: boolean;
  }
  interface FastifyInstance {
    /** Failed authentications per source address; routes that check their own secrets (agent registration) count theirs here too. */
    authFailures: AuthFailureLimiter;
  }
}

export function actionOf(request: FastifyRequest): string {
  const auth = request.routeOptions.config.auth;
  return auth?.action ?? `${request.method} ${request.routeOptions.url ?? request.url}`;
}

export interface Authenticators {
  tokens: TokenService;
  /** Resolves a site agent's credential. */
  agents: { authenticate(secret: string): Promise<Principal | null> };
}

export function installGuard(app: FastifyInstance, deps: Authenticators & { audit: AuditLog; hooks: KernelHooks; authFailures?: AuthFailureLimiter }): void {
  app.decorateRequest('principal', null as unknown as Principal);
  app.decorateRequest('audited', false);
  const authFailures = deps.authFailures ?? new AuthFailureLimiter();
  app.decorate('authFailures', authFailures);

  app.addHook('onRequest', async (request, reply) => {
    request.principal = anonymous;
    const auth: RouteAuth | undefined = request.routeOptions.config.auth;
    if (!auth || auth.role === 'public') return;

    const header = request.headers.authorization;
    // Checked before the token, so a right guess looks the same as a wrong one while the
    // address is held back. Requests without credentials count as failures too: a flood
    // of them is held back like a flood of guesses.
    const retryAfter = authFailures.retryAfter(request.ip);
    if (retryAfter !== null) {
      reply.header('retry-after', String(retryAfter));
      return deny(request, reply, 429, `too many failed or missing authentications from ${request.ip}; try again in ${retryAfter} s`, 'held back');
    }
    if (!header) {
      authFailures.recordFailure(request.ip);
      return deny(request, reply, 401, 'this route needs a bearer token (Authorization: Bearer <token>)');
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const principal: Principal | null = match ? ((await deps.tokens.authenticate(match[1])) ?? (await deps.agents.authenticate(match[1]))) : null;
    if (!principal) {
      authFailures.recordFailure(request.ip);
      return deny(request, reply, 401, 'the bearer token is unknown, revoked or expired');
    }
    request.principal = principal;
    if (auth.role === 'agent') {
      if (principal.kind !== 'agent') return deny(request, reply, 403, `${actionOf(request)} is for site agents, not ${principal.actor}`);
      const own = (request.params as { id?: string } | undefined)?.id;
      if (own !== undefined && own !== principal.agentId) return deny(request, reply, 403, `${principal.actor} may not act for agent ${own}`);
      return;
    }
    if (principal.kind === 'agent') return deny(request, reply, 403, `${principal.actor} is a site agent; ${actionOf(request)} needs role ${auth.role}`);
    if (!hasRole(principal, auth.role)) {
      return deny(request, reply, 403, `${principal.actor} has role ${principal.role}; ${actionOf(request)} needs ${auth.role}`);
    }
    let denial;
    try {
      denial = await deps.hooks.authorize.promise({
        principal,
        action: actionOf(request),
        method: request.method,
        url: request.url,
        requestId: String(request.id),
      });
    } catch (err) {
      // A failing authorization tap must fail closed, naming the plugin.
      request.log.error({ err }, 'authorize hook failed');
      const detail = isSproutError(err) ? err.message : 'an authorize hook failed';
      return deny(request, reply, 403, detail);
    }
    if (denial) return deny(request, reply, 403, denial.deny);
  });

  /**
   * Audits the refusal and answers it. Identical refusals (same address, actor, action,
   * status and reason — `sameAs` when the reason text varies) within the audit repeat
   * window share one record with a count; the paths they asked for are sampled in it.
   */
  async function deny(request: FastifyRequest, reply: FastifyReply, status: 401 | 403 | 429, reason: string, sameAs = reason) {
    const auth = request.routeOptions.config.auth;
    const action = actionOf(request);
    const path = request.url.split('?')[0];
    await deps.audit.recordRepeated(
      {
        actor: request.principal.actor,
        actorRole: request.principal.role,
        action,
        targetType: auth?.target ?? null,
        targetId: targetIdOf(request),
        requestId: String(request.id),
        sourceAddress: request.ip,
        outcome: 'denied',
        details: { status, reason, method: request.method, path },
      },
      {
        key: ['guard', request.ip, request.principal.actor, action, status, sameAs].join('\u0000'),
        sample: { field: 'paths', value: `${request.method} ${path}` },
      },
    );
    request.audited = true;
    return sendProblem(
      reply,
      problem(status === 401 ? 'SPROUT_ERR_UNAUTHENTICATED' : status === 429 ? 'SPROUT_ERR_RATE_LIMITED' : 'SPROUT_ERR_FORBIDDEN', reason, request),
    );
  }
}

/** The `{id}` path parameter, when the route has one: the usual audit target. */
export function targetIdOf(request: FastifyRequest): string | null {
  const params = request.params as Record<string, unknown> | undefined;
  const id = params?.id;
  return typeof id === 'string' ? id : null;
}

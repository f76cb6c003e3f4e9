/**
 * Every route declares who may call it (`config.auth.role`) and, when it changes
 * something, the audit action it records. A /v1 route without a declaration refuses
 * to register: a forgotten role must never mean "open to all".
 */
import type { Role } from '../auth/principal.ts';

export interface RouteAuth {
  /** `agent`: a site agent's credential, acting only for itself (the route's `:id`). */
  role: Role | 'public' | 'agent';
  /** Audit action, e.g. `token.create`; required on mutating routes. */
  action?: string;
  /** Audit target type, e.g. `token`. */
  target?: string;
  /**
   * `false` for high-frequency agent telemetry (heartbeats, work polls, reports): it is
   * kept on the agent and the workflow steps, not in the audit trail. Denials are
   * audited regardless.
   */
  audit?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
}

export const mutatingMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

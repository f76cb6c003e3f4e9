/**
 * Every route declares who may call it (`config.auth.role`) and, when it changes
 * something, the audit action it records. A /v1 route without a declaration refuses
 * to register: a forgotten role must never mean "open to all".
 */
import type { Role } from '../auth/principal.ts';

export interface RouteAuth {
  role: Role | 'public';
  /** Audit action, e.g. `token.create`; required on mutating routes. */
  action?: string;
  /** Audit target type, e.g. `token`. */
  target?: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
}

export const mutatingMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

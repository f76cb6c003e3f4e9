/**
 * Who is asking. Every request resolves to a principal before any handler runs; the
 * audit trail records it as `actor`.
 */
export const roles = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof roles)[number];

export interface Principal {
  kind: 'anonymous' | 'token' | 'agent';
  /** Stable, printable identity for the audit trail: `token:<name>`, `agent:<id>` or `anonymous`. */
  actor: string;
  /** Operator roles; agents have none (they reach only agent routes). */
  role: Role | null;
  tokenId?: string;
  agentId?: string;
  siteId?: string;
}

export const anonymous: Principal = Object.freeze({ kind: 'anonymous', actor: 'anonymous', role: null });

const rank: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

/** True when `principal` holds `needed` or a stronger role. */
export function hasRole(principal: Principal, needed: Role): boolean {
  return principal.role !== null && rank[principal.role] >= rank[needed];
}

/**
 * One mapping from errors to `application/problem+json` (RFC 9457) with a stable
 * `code`: SproutErrors as they are, fastify's own request errors by their status,
 * anything else as an internal error whose details stay in the log.
 */
import Type from 'typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { SproutError, errorCodes, type ErrorCode, type ProblemDetail } from '../errors/index.ts';
import { diskFull } from '../store/write-health.ts';

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'Stable error code (SPROUT_ERR_…)' }),
    detail: Type.String(),
    instance: Type.String(),
    requestId: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.Optional(Type.String()), message: Type.String() }, { additionalProperties: true }))),
  },
  { additionalProperties: true, description: 'application/problem+json' },
);

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  instance: string;
  requestId: string;
  errors?: ProblemDetail[];
}

const byStatus: Record<number, ErrorCode> = {
  400: 'SPROUT_ERR_VALIDATION',
  401: 'SPROUT_ERR_UNAUTHENTICATED',
  403: 'SPROUT_ERR_FORBIDDEN',
  404: 'SPROUT_ERR_NOT_FOUND',
  409: 'SPROUT_ERR_CONFLICT',
  413: 'SPROUT_ERR_PAYLOAD_TOO_LARGE',
  415: 'SPROUT_ERR_UNSUPPORTED_MEDIA_TYPE',
  429: 'SPROUT_ERR_RATE_LIMITED',
  503: 'SPROUT_ERR_UNAVAILABLE',
};

export function toProblem(err: unknown, request: FastifyRequest): Problem {
  if (err instanceof SproutError) {
    return { ...err.extensions, ...problem(err.code, err.message, request, err.details) };
  }
  if (diskFull(err)) {
    return problem(
      'SPROUT_ERR_UNAVAILABLE',
      'the disk is full: the database cannot write; nothing of this request was kept. Free space on the database server, then retry (GET /readyz says when writes work again)',
      request,
    );
  }
  if (outOfResources(err)) {
    return problem('SPROUT_ERR_UNAVAILABLE', 'the database is out of resources (memory or a configured limit); try again shortly', request);
  }
  if (databaseUnavailable(err)) {
    return problem('SPROUT_ERR_UNAVAILABLE', 'the database is unavailable; try again shortly (GET /readyz says when it is back)', request);
  }
  const db = err as { code?: string; constraint?: string; detail?: string };
  // A unique constraint lost a race the handler's own check could not see.
  if (db?.code === '23505') {
    return problem('SPROUT_ERR_CONFLICT', `already exists${db.detail ? `: ${db.detail}` : db.constraint ? ` (${db.constraint})` : ''}`, request);
  }
  const fe = err as FastifyError & { validationContext?: string };
  if (fe?.validation) {
    const errors = collapseChoices(fe.validation).map((v) => validationDetail(fe.validationContext ?? 'body', v));
    return problem(
      'SPROUT_ERR_VALIDATION',
      `${fe.validationContext ?? 'request'} is invalid: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`,
      request,
      errors,
    );
  }
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code = byStatus[status] ?? 'SPROUT_ERR_VALIDATION';
    return { ...problem(code, fe.message, request), status };
  }
  return problem('SPROUT_ERR_INTERNAL', `internal error; see the server log for request ${request.id}`, request);
}

export function problem(code: ErrorCode, detail: string, request: FastifyRequest, errors?: ProblemDetail[]): Problem {
  return {
    type: `urn:sprout:error:${code}`,
    title: errorCodes[code].title,
    status: errorCodes[code].status,
    code,
    detail,
    instance: request.url,
    requestId: String(request.id),
    ...(errors && errors.length > 0 ? { errors } : {}),
  };
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.status(p.status).type('application/problem+json').send(p);
}

function validationDetail(context: string, v: { instancePath: string; message?: string; params: Record<string, unknown>; keyword: string }): ProblemDetail {
  let field = `${context}${v.instancePath}`;
  if (v.keyword === 'required' && typeof v.params.missingProperty === 'string') field = `${field}/${v.params.missingProperty}`;
  if (v.keyword === 'additionalProperties' && typeof v.params.additionalProperty === 'string') {
    return { field: `${field}/${v.params.additionalProperty}`, message: 'is not a known field' };
  }
  return { field, message: v.message ?? v.keyword };
}

type AjvError = { instancePath: string; message?: string; params: Record<string, unknown>; keyword: string };

/**
 * A value outside a union of literals (`arch: sparc`) makes ajv report one `const` error
 * per literal plus an `anyOf`; an operator needs one line: "must be one of: x86_64, arm64".
 */
function collapseChoices(errors: AjvError[]): AjvError[] {
  const choices = new Map<string, unknown[]>();
  for (const e of errors) if (e.keyword === 'const') choices.set(e.instancePath, [...(choices.get(e.instancePath) ?? []), e.params.allowedValue]);
  const unions = new Set(errors.filter((e) => e.keyword === 'anyOf' && choices.has(e.instancePath)).map((e) => e.instancePath));
  const out: AjvError[] = [];
  for (const e of errors) {
    if (!unions.has(e.instancePath)) out.push(e);
    else if (e.keyword === 'anyOf') out.push({ ...e, keyword: 'enum', message: `must be one of: ${choices.get(e.instancePath)!.map(String).join(', ')}` });
  }
  return out;
}

/** PostgreSQL connection classes and shutdown states that mean "not now", not "wrong". */
const unavailableSqlStates = /^(08...|57P0[1-4]|53300)$/;
const unavailableNetworkCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** insufficient_resources (53000), out_of_memory (53200), configuration_limit_exceeded (53400): "not now" too. */
function outOfResources(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === '53000' || code === '53200' || code === '53400';
}

/** True when `err` (or what caused it) says the database cannot be reached right now: the API answers 503, not 500. */
export function databaseUnavailable(err: unknown): boolean {
  for (
    let e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    e = e.cause as typeof e, depth++
  ) {
    if (typeof e.code === 'string' && (unavailableSqlStates.test(e.code) || unavailableNetworkCodes.has(e.code))) return true;
    if (e.name === 'KnexTimeoutError') return true;
    if (
      typeof e.message === 'string' &&
      /Connection terminated|connection to the database was lost|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(
        e.message,
      )
    )
      return true;
    if (Array.isArray((e as { errors?: unknown[] }).errors) && (e as { errors: unknown[] }).errors.some((inner) => databaseUnavailable(inner))) return true;
  }
  return false;
}

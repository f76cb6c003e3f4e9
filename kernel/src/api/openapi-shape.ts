/**
 * What turns the routes' schemas into an OpenAPI document a client generator can use:
 * an operationId for every operation, the shared schemas (Problem, Machine, Workflow…)
 * as components referenced with $ref instead of copied into every route, a description
 * for every response, errors declared as application/problem+json, and the agent
 * protocol tagged apart from the operator API. Applied to each route as it is added;
 * it never changes what a route validates or answers.
 */
import type { RouteOptions } from 'fastify';
import { ProblemSchema } from './problem.ts';
import { AuditRecordSchema } from './routes/audit.ts';
import { PluginStatusSchema } from './routes/plugins.ts';
import { TokenSchema } from './routes/tokens.ts';
import { AllocationSchema, NetworkSchema, NetworkWithUtilisationSchema, UtilisationSchema } from '../domain/networks/schemas.ts';
import { BmcView, MachineSchema, PowerView, StatusReasonSchema } from '../domain/machines/schemas.ts';
import { AgentSchema, SiteSchema } from '../domain/sites/routes.ts';
import { StepSchema, WorkflowSchema } from '../domain/workflows/schemas.ts';

/** Schemas many routes answer with, by component name. */
export const sharedSchemas: Record<string, object> = {
  Problem: ProblemSchema,
  Machine: MachineSchema,
  MachineStatusReason: StatusReasonSchema,
  Bmc: BmcView,
  Power: PowerView,
  Workflow: WorkflowSchema,
  WorkflowStep: StepSchema,
  Site: SiteSchema,
  Agent: AgentSchema,
  Network: NetworkSchema,
  NetworkWithUtilisation: NetworkWithUtilisationSchema,
  NetworkUtilisation: UtilisationSchema,
  Allocation: AllocationSchema,
  Token: TokenSchema,
  AuditRecord: AuditRecordSchema,
  PluginStatus: PluginStatusSchema,
};

/** Each shared schema with its `$id`, for `app.addSchema` (the serializer resolves the $refs through them). */
export function sharedSchemaDefinitions(): object[] {
  return Object.entries(sharedSchemas).map(([name, schema]) => ({ ...(replaceShared(schema, schema) as object), $id: name }));
}

const byObject = new Map<object, string>(Object.entries(sharedSchemas).map(([name, schema]) => [schema, name]));

/** A copy of `schema` with every shared sub-schema (other than `self`) replaced by its $ref. */
function replaceShared(schema: unknown, self?: object): unknown {
  if (schema === null || typeof schema !== 'object') return schema;
  const name = schema !== self ? byObject.get(schema) : undefined;
  if (name) return { $ref: `${name}#` };
  if (Array.isArray(schema)) return schema.map((s) => replaceShared(s));
  const copy: Record<string | symbol, unknown> = {};
  for (const key of Reflect.ownKeys(schema)) copy[key] = replaceShared((schema as Record<string | symbol, unknown>)[key]);
  return copy;
}

const successDescriptions: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted: the work started; follow it with the returned workflow or request',
  204: 'No content',
};
const errorDescriptions: Record<number, string> = {
  400: 'The request is invalid: the problem names each bad field',
  401: 'No valid bearer token',
  403: "The token's role may not do this",
  404: 'No such resource',
  409: "The resource's state does not allow this (the problem says why and what would)",
  413: 'The body is too large',
  502: 'A device behind the site agent (a BMC) answered with an error',
  503: 'Not ready',
  504: 'The site agent did not answer in time',
};

/**
 * `getMachinesById`, `postMachinesByIdDeploy`: the method, then each path segment, a
 * parameter as `By<Name>`. Stable (it follows the URL) and unique (so are method + URL).
 */
export function operationIdOf(method: string, url: string): string {
  const words = url
    .replace(/^\/v1\//, '/')
    .split('/')
    .filter(Boolean)
    .map((segment) => (segment.startsWith(':') ? `By-${segment.slice(1)}` : segment))
    .flatMap((segment) => segment.split(/[-_.]/))
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1));
  return `${method.toLowerCase()}${words.join('')}`;
}

/** Whether a route belongs to the agent protocol (site agents call it), not to operators. */
const isAgentRoute = (route: RouteOptions, role: string) => role === 'agent' || route.url === '/v1/agents/register';

export function shapeOpenApi(route: RouteOptions, role: string): void {
  const schema = (route.schema ??= {}) as Record<string, any>;
  const method = [route.method].flat()[0]!;
  schema.operationId ??= operationIdOf(method, route.url);
  if (isAgentRoute(route, role)) {
    schema.tags = ['agent protocol'];
    schema['x-sprout-audience'] = 'agent';
  }
  const responses = (schema.response ??= {}) as Record<string, any>;
  for (const [code, response] of Object.entries(responses)) {
    const status = Number(code);
    if (response === ProblemSchema || (status >= 400 && byObject.get(response) === 'Problem')) {
      responses[code] = { description: errorDescriptions[status] ?? 'Error', content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } };
      continue;
    }
    if (response && typeof response === 'object' && 'content' in response) continue;
    const shaped = replaceShared(response) as Record<string, unknown>;
    responses[code] = shaped.$ref
      ? { description: successDescriptions[status] ?? 'OK', ...shaped }
      : { ...shaped, description: (shaped.description as string | undefined) ?? successDescriptions[status] ?? 'OK' };
  }
}

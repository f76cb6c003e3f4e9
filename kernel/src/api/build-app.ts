/**
 * Builds the HTTP API: schemas on every route (they are the OpenAPI document), the
 * request guard, problem+json errors, request ids on every response, the kernel's
 * routes under /v1, each plugin's routes encapsulated under /v1/plugins/<id>/ and the
 * agent-protocol routes plugins add under /v1/agents/:id/.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from 'fastify';
import Type from 'typebox';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { Knex } from 'knex';
import type { Kernel } from '../kernel.ts';
import type { SproutConfig } from '../config/schema.ts';
import type { Clock, Lifecycle } from '../domain/lifecycle/lifecycle.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { TokenService } from '../auth/token-service.ts';
import type { SiteService } from '../domain/sites/site-service.ts';
import type { MachineService } from '../domain/machines/machine-service.ts';
import type { NetworkService } from '../domain/networks/network-service.ts';
import type { WorkflowService } from '../domain/workflows/workflow-service.ts';
import type { WorkflowEngine } from '../domain/workflows/engine.ts';
import type { SiteImages } from '../domain/sites/site-images.ts';
import type { PowerService } from '../domain/machines/power-service.ts';
import type { OutboxDispatcher } from '../domain/workflows/outbox-dispatcher.ts';
import type { SiteRevisions } from '../domain/sites/site-revisions.ts';
import type { ControlPlaneMetrics } from '../metrics/control-plane-metrics.ts';
import type { PluginStatus } from '../plugins/inspect.ts';
import type { PluginRoutes } from '../plugins/plugin-host.ts';
import { SproutError } from '../errors/index.ts';
import { kernelVersion } from '../version.ts';
import { installGuard } from './guard.ts';
import { mutatingMethods } from './route-auth.ts';
import { createAudited, installFailedMutationAudit, type Audited } from './audited.ts';
import { problem, sendProblem, toProblem, ProblemSchema } from './problem.ts';
import { refuseUnstorableText } from './storable-text.ts';
import { shapeOpenApi, sharedSchemaDefinitions } from './openapi-shape.ts';
import { OneLinePerRequest } from './request-log.ts';
import { healthRoutes } from './routes/health.ts';
import { auditRoutes } from './routes/audit.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { pluginRoutes } from './routes/plugins.ts';
import { whoamiRoutes } from './routes/whoami.ts';
import { metricsRoutes, countRequests } from './routes/metrics.ts';
import { networkRoutes } from '../domain/networks/routes.ts';
import { siteRoutes } from '../domain/sites/routes.ts';
import { observationRoutes } from '../domain/sites/observation-routes.ts';
import { imageRoutes } from '../domain/sites/image-routes.ts';
import { machineRoutes } from '../domain/machines/routes.ts';
import { machineActionRoutes } from '../domain/machines/action-routes.ts';
import { powerRoutes } from '../domain/machines/power-routes.ts';
import { workflowRoutes } from '../domain/workflows/routes.ts';
import { agentRoutes } from '../domain/agents/routes.ts';
import { readTlsMaterial } from '../tls/server-tls.ts';

type AddFormats = (ajv: Ajv) => Ajv;
const addFormats: AddFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;

/**
 * The kernel's services as route modules get them. A module names the ones it uses in
 * its type (`ServiceDeps<'machines' | 'audit'>`) and gets only those: routes call
 * services and never write tables themselves; `db` is for the look-ups a route does
 * before calling a service (findMachine, findSite) and reads.
 */
export interface RouteServices {
  db: Knex;
  config: SproutConfig;
  clock: Clock;
  audit: AuditLog;
  tokens: TokenService;
  sites: SiteService;
  machines: MachineService;
  networks: NetworkService;
  workflows: WorkflowService;
  engine: WorkflowEngine;
  lifecycle: Lifecycle;
  images: SiteImages;
  power: PowerService;
  dispatcher: OutboxDispatcher;
  siteRevisions: SiteRevisions;
  metrics: ControlPlaneMetrics;
  pluginStatus: PluginStatus[];
  readiness: Kernel['readiness'];
  capability: Kernel['capability'];
  capabilityAll: Kernel['capabilityAll'];
}

/** What a route module receives: the services it names, and the audited-mutation helper. */
export type ServiceDeps<K extends keyof RouteServices> = Pick<RouteServices, K> & { audited: Audited };

/** The agents' routes (registration, heartbeat, desired state) still take the whole kernel. */
export interface RouteDeps {
  kernel: Kernel;
  audited: Audited;
}

/** Routes that were removed, with what to use instead: their 404 says so. */
const retiredRoutes: Record<string, string> = {
  'POST /v1/workflows':
    'workflows start through the machine action routes, which validate and allocate (POST /v1/machines/{id}/commission, POST /v1/machines/{id}/test, POST /v1/machines/{id}/deploy, POST /v1/machines/{id}/release), and POST /v1/sites/{id}/sync',
};

function validators() {
  const base = { allErrors: true, strict: false, removeAdditional: false as const, useDefaults: true };
  // Bodies are taken as sent: a string where a number belongs is an error, not a guess.
  const body = addFormats(new Ajv({ ...base, coerceTypes: false }));
  // Query strings and path parameters are text by nature: coerce them.
  const other = addFormats(new Ajv({ ...base, coerceTypes: 'array' }));
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) => (httpPart === 'body' ? body : other).compile(schema);
}

/** The `:id` of every agent route: the calling agent's own id (the guard refuses any other). */
const AgentParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

/**
 * Mounts each plugin's agent-protocol routes under /v1/agents/:id/. The kernel owns their
 * authentication: every one must be for role `agent`. A route the kernel or another
 * plugin already serves stops the start, naming both.
 */
async function mountAgentRoutes(v1: FastifyInstance, plugins: PluginRoutes[]): Promise<void> {
  const owners = new Map<string, string>();
  for (const { pluginId, register } of plugins) {
    await v1.register(
      async (scope) => {
        scope.addHook('onRoute', (route: RouteOptions) => {
          const where = `${[route.method].flat().join(',')} ${route.url}`;
          const refuse = (message: string) =>
            new SproutError('SPROUT_ERR_PLUGIN_VALIDATION', `plugin ${pluginId}: agent route ${where} ${message}`, { context: { plugin: pluginId } });
          if (route.config?.auth?.role !== 'agent') throw refuse(`declares role ${route.config?.auth?.role}; agent routes are for role agent`);
          for (const method of [route.method].flat()) {
            const key = `${method} ${route.url}`;
            const owner = owners.get(key) ?? (scope.hasRoute({ method, url: route.url }) ? 'the kernel' : undefined);
            if (owner) throw refuse(`is already served by ${owner === 'the kernel' ? owner : `plugin ${owner}`}; only one may serve it`);
            owners.set(key, pluginId);
          }
          const schema = (route.schema ??= {}) as Record<string, unknown>;
          schema.params ??= AgentParams;
        });
        await scope.register(register);
      },
      { prefix: '/agents/:id' },
    );
  }
}

/**
 * An agent route nobody serves is most often an agent set up for another transport than
 * the one this control plane runs (a transport's routes come with its plugin): 409, and
 * what to do about it.
 */
function agentRouteMissing(kernel: Kernel, route: string): string {
  return `no route ${route}: this control plane hands work to agents through ${kernel.activeProvider('transport')}; an agent that calls this was set up for another transport: restart the agent so it picks the transport up at registration`;
}
const agentRoute = /^[A-Z]+ \/v1\/agents\/[^/]+\/./;

export async function buildApp(kernel: Kernel, routes: PluginRoutes[], pluginAgentRoutes: PluginRoutes[] = []): Promise<FastifyInstance> {
  const app = Fastify({
    // HTTPS when `tls:` is set; a bad file or a mismatched key stops the start here, naming the field.
    ...(kernel.config.tls ? { https: readTlsMaterial(kernel.config.tls) } : {}),
    loggerInstance: kernel.logger as FastifyBaseLogger,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
    },
    logController: new OneLinePerRequest(),
    bodyLimit: 1024 * 1024,
    // Agents long-poll; on shutdown their open connections must not hold the server up.
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false } },
    // Errors the router raises before any route (a malformed URL, an over-long id) are problems too.
    frameworkErrors: (err, request, reply) => sendProblem(reply, toProblem(err, request)),
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as FastifyInstance;
  app.setValidatorCompiler(validators());
  // Shared response schemas, referenced by $ref from routes (see openapi-shape.ts): components in the OpenAPI document.
  for (const definition of sharedSchemaDefinitions()) app.addSchema(definition);

  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/v1')) {
      if (!(route.schema as { hide?: boolean } | undefined)?.hide && !route.url.startsWith('/docs')) shapeOpenApi(route, 'public');
      return;
    }
    const auth = route.config?.auth;
    if (!auth) throw new SproutError('SPROUT_ERR_INTERNAL', `route ${route.method} ${route.url} declares no auth role (config.auth)`);
    const schema = (route.schema ??= {}) as Record<string, any>;
    schema.response ??= {};
    const mutating = [route.method].flat().some((m) => mutatingMethods.has(m));
    for (const status of auth.role === 'public' ? [400, 404] : [400, 401, 403, 404, ...(mutating ? [409] : [])]) schema.response[status] ??= ProblemSchema;
    if (auth.role !== 'public') {
      schema.security ??= [{ bearer: [] }];
      schema.description = `${schema.description ? `${schema.description}\n\n` : ''}Requires role: **${auth.role}**.`;
    }
    shapeOpenApi(route, auth.role);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Sprout API',
        version: kernelVersion,
        description: 'Bare-metal provisioning: sites, machines, networks, workflows. Errors are application/problem+json with a stable `code`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API token (`sprout token create`)' } } },
      tags: [
        {
          name: 'agent protocol',
          description: 'Called by site agents with their own credential, not by operators: registration, heartbeats, desired state, work and reports',
        },
      ],
    },
    // Shared schemas keep their names as components (#/components/schemas/Machine), not def-N.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', String(request.id));
    done(null, payload);
  });
  app.setErrorHandler((err, request, reply) => {
    const p = toProblem(err, request);
    request.failure = `${p.code}: ${p.detail}`;
    if (p.status >= 500) request.log.error({ err }, 'request failed');
    return sendProblem(reply, p);
  });
  app.setNotFoundHandler((request, reply) => {
    const route = `${request.method} ${request.url.split('?')[0].replace(/(.)\/+$/, '$1')}`;
    if (agentRoute.test(route)) return sendProblem(reply, problem('SPROUT_ERR_CONFLICT', agentRouteMissing(kernel, route), request));
    return sendProblem(reply, problem('SPROUT_ERR_NOT_FOUND', `no route ${route}${retiredRoutes[route] ? `: ${retiredRoutes[route]}` : ''}`, request));
  });

  // An action posted with no body at all (`curl -X POST …/release`) means "no options".
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.body === undefined && mutatingMethods.has(request.method) && request.method !== 'DELETE') request.body = {};
    if (request.url.startsWith('/v1')) refuseUnstorableText({ params: request.params, query: request.query, body: request.body });
    done();
  });
  countRequests(app, kernel.metrics);
  installGuard(app, { tokens: kernel.services.tokens, agents: kernel.services.agents, audit: kernel.services.auditLog, hooks: kernel.hooks });
  installFailedMutationAudit(app, kernel.services.auditLog);

  const audited = createAudited(kernel.store.db, kernel.services.auditLog);
  const { services: kernelServices } = kernel;
  const services: RouteServices = {
    db: kernel.store.db,
    config: kernel.config,
    clock: kernel.clock,
    audit: kernelServices.auditLog,
    tokens: kernelServices.tokens,
    sites: kernelServices.sites,
    machines: kernelServices.machines,
    networks: kernelServices.networks,
    workflows: kernelServices.workflows,
    engine: kernelServices.engine,
    lifecycle: kernelServices.lifecycle,
    images: kernelServices.images,
    power: kernelServices.power,
    dispatcher: kernelServices.dispatcher,
    siteRevisions: kernelServices.siteRevisions,
    metrics: kernel.metrics,
    pluginStatus: kernel.pluginStatus,
    readiness: () => kernel.readiness(),
    capability: (capability) => kernel.capability(capability),
    capabilityAll: (capability) => kernel.capabilityAll(capability),
  };
  /** Only the services a module names, so what each one can reach reads at its registration. */
  const only = <K extends keyof RouteServices>(...keys: K[]): ServiceDeps<K> => ({
    ...(Object.fromEntries(keys.map((k) => [k, services[k]])) as Pick<RouteServices, K>),
    audited,
  });
  const deps: RouteDeps = { kernel, audited };
  await app.register(healthRoutes, only('readiness'));
  if (kernel.config.metrics.enabled) await app.register(metricsRoutes, only('config', 'metrics'));
  app.get('/openapi.json', { schema: { hide: true }, config: { auth: { role: 'public' } } }, async () => app.swagger());
  await app.register(
    async (v1) => {
      await v1.register(auditRoutes, only('audit', 'clock', 'machines'));
      await v1.register(tokenRoutes, only('audit', 'tokens'));
      await v1.register(pluginRoutes, only('pluginStatus'));
      await v1.register(whoamiRoutes, only());
      await v1.register(siteRoutes, only('db', 'siteRevisions', 'sites', 'workflows'));
      await v1.register(observationRoutes, only('db'));
      await v1.register(imageRoutes, only('db', 'images'));
      await v1.register(machineRoutes, only('audit', 'capability', 'db', 'machines', 'networks', 'siteRevisions'));
      await v1.register(machineActionRoutes, only('capability', 'capabilityAll', 'config', 'db', 'images', 'lifecycle', 'machines', 'workflows'));
      await v1.register(powerRoutes, only('audit', 'db', 'dispatcher', 'machines', 'power'));
      await v1.register(networkRoutes, only('networks', 'siteRevisions'));
      await v1.register(workflowRoutes, only('audit', 'db', 'engine', 'workflows'));
      await v1.register(agentRoutes, deps);
      await mountAgentRoutes(v1, pluginAgentRoutes);
      for (const { pluginId, register } of routes) {
        await v1.register(register, { prefix: `/plugins/${pluginId}` });
      }
    },
    { prefix: '/v1' },
  );

  await app.ready();
  return app;
}

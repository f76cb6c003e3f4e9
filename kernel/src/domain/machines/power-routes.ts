/**
 * Power under /v1/machines/{id}/power: read the power state (live, through the site's
 * agent and the machine's BMC, or `?cached=true` as last known) and power a machine on,
 * off or cycle it. Each live call is audited as `machine.power.<action>` with its outcome
 * and the BMC's own message on failure — never its credentials. A BMC failure is a 502
 * (SPROUT_ERR_BMC, with the driver's `reason`); an agent that did not answer in time a
 * 504 (SPROUT_ERR_AGENT_TIMEOUT); a site without an agent a 409.
 */
import Type from 'typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ServiceDeps } from '../../api/build-app.ts';
import { SproutError } from '../../errors/index.ts';
import { findMachine, type MachineRow } from './find-machine.ts';
import { MachineParams } from './routes.ts';
import type { PowerAction } from './power-service.ts';

const PowerStateValue = Type.Union([Type.Literal('on'), Type.Literal('off'), Type.Literal('unknown'), Type.Null()]);

export const PowerAnswer = Type.Object({
  machine: Type.String({ description: 'Hostname' }),
  action: Type.String(),
  state: PowerStateValue,
  checkedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  bmc: Type.Object({ type: Type.String(), address: Type.Union([Type.String(), Type.Null()]) }),
  note: Type.Optional(Type.String()),
  awaitsPerson: Type.Optional(Type.String({ description: 'The manual driver: what a person must do' })),
  cached: Type.Optional(Type.Boolean()),
  error: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'Cached: why the last check failed' })),
  powerMismatch: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});

const bmcOf = (machine: MachineRow) => ({
  type: typeof machine.bmc?.type === 'string' ? machine.bmc.type : 'manual',
  address: typeof machine.bmc?.address === 'string' ? machine.bmc.address : null,
});

export const powerRoutes: FastifyPluginAsync<ServiceDeps<'audit' | 'db' | 'dispatcher' | 'machines' | 'power'>> = async (
  app,
  { audit, db, dispatcher, machines, power },
) => {
  /** Asks the site's agent, waits for its answer, and audits the call whatever came of it. */
  const live = async (request: FastifyRequest, action: PowerAction, soft: boolean) => {
    const machine = await findMachine(db, (request.params as { id: string }).id);
    const recordCall = (outcome: 'success' | 'failed', details: Record<string, unknown>) =>
      audit.record({
        actor: request.principal.actor,
        actorRole: request.principal.role,
        action: `machine.power.${action}`,
        targetType: 'machine',
        targetId: machine.id,
        requestId: String(request.id),
        sourceAddress: request.ip,
        outcome,
        details: { hostname: machine.hostname, driver: bmcOf(machine).type, ...(soft ? { soft } : {}), ...details },
      });
    // The safety net for failed mutations would record it again, under the route's generic action.
    request.audited = true;
    try {
      const id = await db.transaction((trx) => power.queue(trx, machine, action, soft, request.principal.actor));
      dispatcher.kick();
      const answer = await power.waitFor(id);
      if (!answer) {
        const seconds = Math.round((power.callTimeoutMs + 15_000) / 1000);
        const site = await db('sites').where({ id: machine.site_id }).first('name');
        throw new SproutError(
          'SPROUT_ERR_AGENT_TIMEOUT',
          `the agent at site ${site?.name ?? machine.site_id} did not answer the power request for ${machine.hostname} within ${seconds} s; check \`sprout site show ${site?.name ?? machine.site_id}\``,
        );
      }
      if (answer.state === 'failed') {
        const reason = answer.result?.reason ?? 'protocol';
        throw new SproutError('SPROUT_ERR_BMC', answer.error ?? 'the BMC failed without a message', { extensions: { reason }, context: { reason } });
      }
      const result = answer.result ?? {};
      const body = {
        machine: machine.hostname,
        action,
        state: result.state ?? 'unknown',
        checkedAt: new Date(answer.finished_at ?? Date.now()).toISOString(),
        bmc: bmcOf(machine),
        ...(result.note ? { note: result.note } : {}),
        ...(result.awaitsPerson ? { awaitsPerson: result.awaitsPerson } : {}),
      };
      await recordCall('success', {
        state: body.state,
        ...(result.note ? { note: result.note } : {}),
        ...(result.awaitsPerson ? { awaitsPerson: result.awaitsPerson } : {}),
      });
      return body;
    } catch (err) {
      const failure =
        err instanceof SproutError
          ? { error: err.message, code: err.code, ...(err.code === 'SPROUT_ERR_BMC' ? { reason: err.extensions.reason } : {}) }
          : { error: 'internal error' };
      await recordCall('failed', failure).catch((auditErr) => request.log.error({ err: auditErr }, 'could not audit a failed power request'));
      throw err;
    }
  };

  app.get(
    '/machines/:id/power',
    {
      config: { auth: { role: 'viewer' } },
      schema: {
        tags: ['machine actions'],
        summary: "The machine's power state: asked of its BMC through the site's agent, or the last known with ?cached=true",
        params: MachineParams,
        querystring: Type.Object({ cached: Type.Optional(Type.Boolean({ default: false })) }, { additionalProperties: false }),
        response: { 200: PowerAnswer },
      },
    },
    async (request) => {
      if (!(request.query as { cached?: boolean }).cached) return live(request, 'status', false);
      const machine = await machines.find((request.params as { id: string }).id);
      return {
        machine: machine.hostname,
        action: 'status',
        state: machine.power.state,
        checkedAt: machine.power.checkedAt,
        bmc: { type: machine.bmc?.type ?? 'manual', address: machine.bmc?.address ?? null },
        cached: true,
        error: machine.power.error,
        powerMismatch: machine.powerMismatch,
      };
    },
  );

  app.post(
    '/machines/:id/power',
    {
      config: { auth: { role: 'operator', action: 'machine.power', target: 'machine' } },
      schema: {
        tags: ['machine actions'],
        summary: "Power the machine on, off (hard; soft: an ACPI shutdown) or cycle it, through its site's agent and BMC",
        params: MachineParams,
        body: Type.Object(
          {
            action: Type.Union([Type.Literal('on'), Type.Literal('off'), Type.Literal('cycle')]),
            soft: Type.Optional(Type.Boolean({ description: 'off only: ask the OS to shut down' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: PowerAnswer },
      },
    },
    async (request) => {
      const body = request.body as { action: 'on' | 'off' | 'cycle'; soft?: boolean };
      if (body.soft && body.action !== 'off')
        throw new SproutError('SPROUT_ERR_VALIDATION', 'soft applies to action off only', {
          details: [{ field: 'body/soft', message: 'only with action off' }],
        });
      return live(request, body.action, body.soft === true);
    },
  );
};

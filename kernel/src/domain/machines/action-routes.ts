/**
 * What operators ask machines to do: commission, test, deploy, release (each starts a
 * workflow and answers 202 with it), mark-broken / mark-fixed, and allocate. An action
 * the machine's status does not allow is a 409 naming the status and what is allowed.
 */
import Type from 'typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import type { RouteServices, ServiceDeps } from '../../api/build-app.ts';
import { allocationCapability } from '../../capabilities/allocation.ts';
import { hwtestCapability, type HardwareTestDefinition } from '../../capabilities/hwtest.ts';
import { SproutError } from '../../errors/index.ts';
import { findSite } from '../sites/find-site.ts';
import { WorkflowSchema } from '../workflows/schemas.ts';
import { paramsForAudit } from '../workflows/workflow-secrets.ts';
import { workflowDefinitions, type WorkflowKind } from '../workflows/definitions.ts';
import { allowedFrom } from '../lifecycle/transitions.ts';
import { findMachine, type MachineRow } from './find-machine.ts';
import { MachineParams } from './routes.ts';
import { checkSshKeys } from './ssh-keys.ts';
import { Arch, MachineSchema, Tag } from './schemas.ts';

const HwtestChoice = Type.Union([Type.Boolean(), Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 64 })], {
  description: 'true (default): every test in the catalogue; false: none (recorded); a list: those tests',
});

/** A selected test as the installer needs it: what to run and for how long. */
export type HardwareTestPlan = Pick<HardwareTestDefinition, 'name' | 'run' | 'timeoutSeconds'>;

/**
 * Which hardware tests a workflow runs, checked against the active catalogue, with their
 * definitions (`hwtestDefinitions`): they travel with the work item to the agent, whose
 * metadata hands a `script` test's script and timeout to the installer.
 */
async function chooseHardwareTests(
  kernel: Pick<RouteServices, 'capabilityAll' | 'config'>,
  choice: boolean | string[] | undefined,
): Promise<{ hwtests: string[]; hwtestDefinitions?: HardwareTestPlan[]; hwtestDisabled: boolean; hwtestDisabledBy?: string }> {
  const definitions = (await kernel.capabilityAll(hwtestCapability)).flatMap((p) => p.catalogue());
  const catalogue = definitions.map((t) => t.name);
  const planOf = (names: string[]) => ({
    hwtests: names,
    hwtestDefinitions: names.map((name) => definitions.find((d) => d.name === name)!).map(({ name, run, timeoutSeconds }) => ({ name, run, timeoutSeconds })),
    hwtestDisabled: false,
  });
  if (choice === false) return { hwtests: [], hwtestDisabled: true, hwtestDisabledBy: 'request' };
  if (choice === undefined && !kernel.config.lifecycle.hardwareTests)
    return { hwtests: [], hwtestDisabled: true, hwtestDisabledBy: 'config lifecycle.hardwareTests' };
  if (choice === undefined || choice === true) return planOf(catalogue);
  const unknown = choice.filter((name) => !catalogue.includes(name));
  if (unknown.length > 0) {
    throw new SproutError('SPROUT_ERR_VALIDATION', `unknown hardware test(s): ${unknown.join(', ')}; known: ${catalogue.join(', ')}`, {
      details: unknown.map((name) => ({ field: `body/hwtest/${choice.indexOf(name)}`, message: `no hardware test named ${name}` })),
    });
  }
  return planOf([...new Set(choice)]);
}

export const machineActionRoutes: FastifyPluginAsync<
  ServiceDeps<'capability' | 'capabilityAll' | 'config' | 'db' | 'images' | 'lifecycle' | 'machines' | 'workflows'>
> = async (app, { capability, capabilityAll, config, db, images, lifecycle, machines, workflows, audited }) => {
  const startWorkflow = async (
    request: FastifyRequest,
    kind: Exclude<WorkflowKind, 'sync-site'>,
    params: (machine: MachineRow) => Promise<Record<string, unknown>> | Record<string, unknown>,
    prepare?: (trx: Knex.Transaction, machine: MachineRow) => Promise<MachineRow>,
  ) => {
    // The answer is read in the transaction that started the workflow: read after it, a busy
    // pool could answer 503 ("try again") for a workflow that had started, and a retry then met 409.
    return audited(request, async (trx) => {
      let machine = await findMachine(trx, (request.params as { id: string }).id, { forUpdate: true });
      if (prepare) machine = await prepare(trx, machine);
      const chosen = await params(machine);
      const id = await workflows.start(trx, { kind, machine, params: chosen, actor: request.principal.actor, requestId: String(request.id) });
      return {
        result: await workflows.get(id, trx),
        targetId: machine.id,
        details: {
          hostname: machine.hostname,
          workflow: id,
          status: {
            old: machine.status,
            new: `${kind === 'commission' ? 'commissioning' : kind === 'deploy' ? 'deploying' : kind === 'release' ? 'releasing' : 'testing'}`,
          },
          ...paramsForAudit(kind, chosen),
        },
      };
    });
  };

  const action = (
    path: string,
    summary: string,
    body: ReturnType<typeof Type.Object> | undefined,
    handler: (request: FastifyRequest) => Promise<unknown>,
    actionName: string,
    status = 202,
    response: object = WorkflowSchema,
  ) =>
    app.post(
      `/machines/:id/${path}`,
      {
        config: { auth: { role: 'operator', action: actionName, target: 'machine' } },
        schema: { tags: ['machine actions'], summary, params: MachineParams, ...(body ? { body } : {}), response: { [status]: response } },
      },
      async (request, reply) => reply.status(status).send(await handler(request)),
    );

  action(
    'commission',
    'Commission: boot the machine, collect its hardware facts and run hardware tests → ready',
    Type.Object({ hwtest: Type.Optional(HwtestChoice) }, { additionalProperties: false }),
    (request) =>
      startWorkflow(request, 'commission', () =>
        chooseHardwareTests({ capabilityAll, config }, (request.body as { hwtest?: boolean | string[] } | undefined)?.hwtest),
      ),
    'machine.commission',
  );

  action(
    'test',
    'Run hardware tests on a ready machine',
    Type.Object({ hwtest: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 64 })) }, { additionalProperties: false }),
    (request) =>
      startWorkflow(request, 'test', () => chooseHardwareTests({ capabilityAll, config }, (request.body as { hwtest?: string[] } | undefined)?.hwtest)),
    'machine.test',
  );

  action(
    'deploy',
    'Deploy an image; a ready machine is allocated to the caller first',
    Type.Object(
      {
        image: Type.String({
          minLength: 1,
          maxLength: 1024,
          pattern: '^\\S+$',
          description: "Image URL, or the name of an image in the site's image store (GET /v1/sites/{id}/images); a name the site does not hold is a 409",
        }),
        imageSha256: Type.Optional(
          Type.String({
            pattern: '^[0-9a-fA-F]{64}$',
            description: 'Expected sha256 of the image; the installer fails the deploy on any other sum. For a named image the agent supplies it.',
          }),
        ),
        userData: Type.Optional(
          Type.String({ maxLength: 65_536, description: 'cloud-init user-data (cloud-config or a script), passed to the installed system unchanged' }),
        ),
        sshKeys: Type.Optional(
          Type.Array(Type.String({ minLength: 1, maxLength: 16_384 }), {
            maxItems: 64,
            description: "OpenSSH public key lines for the installed system's default user (cloud-init vendor-data)",
          }),
        ),
        firstBoot: Type.Optional(
          Type.Boolean({
            description:
              'Wait for the installed OS to report its first boot (cloud-init phone_home) before the machine is deployed (default true); false for images without cloud-init',
          }),
        ),
      },
      {
        additionalProperties: false,
        examples: [
          {
            image: 'debian-12',
            sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq9dMCkvJ0n8QhBr3bqTR4x3y1r4Lq1m1vN6mXtQ2Zb alice@laptop'],
            userData: '#cloud-config\npackages: [htop]\n',
          },
          {
            image: 'https://images.example/debian-12.raw.gz',
            imageSha256: 'c3ab8ff13720e8ad9047dd39466b3c8974e592c2fa383d4a3960714caef0c4f2',
            firstBoot: false,
          },
        ],
      },
    ),
    (request) => {
      const body = request.body as { image: string; imageSha256?: string; userData?: string; sshKeys?: string[]; firstBoot?: boolean };
      // A short name (`debian-12`) becomes the file the site holds (`debian-12.raw`) when the deploy is checked.
      let image = body.image;
      const params = () => ({
        image,
        ...(body.imageSha256 ? { imageSha256: body.imageSha256.toLowerCase() } : {}),
        ...(body.userData ? { userData: body.userData } : {}),
        ...(body.sshKeys?.length ? { sshKeys: checkSshKeys(body.sshKeys) } : {}),
        ...(body.firstBoot === false ? { firstBoot: false } : { firstBootSeconds: config.lifecycle.timeouts.firstBoot }),
      });
      return startWorkflow(request, 'deploy', params, async (trx, machine) => {
        // Refused now, not after the machine booted the installer: an image its site does not hold (the machine's status decides first).
        if (allowedFrom(machine.status, machine.status === 'ready' ? 'allocate' : workflowDefinitions.deploy.start!))
          image = await images.requireForDeploy(trx, machine.site_id, body.image);
        if (machine.status !== 'ready') return machine;
        const allocated = await lifecycle.transition(trx, { machine, action: 'allocate', actor: request.principal.actor, requestId: String(request.id) });
        return machines.setOwner(trx, machine.id, allocated.owner ?? request.principal.actor);
      });
    },
    'machine.deploy',
  );

  action(
    'release',
    'Release: power the machine off, clear its boot intent and addresses → ready; with erase, first boot the installer to wipe every disk',
    Type.Object(
      {
        erase: Type.Optional(
          Type.Boolean({
            description:
              'Wipe every disk first (blkdiscard where supported, else the first and last 16 MiB of each disk): the installer reports what it wiped, then powers off',
          }),
        ),
      },
      { additionalProperties: false },
    ),
    (request) => startWorkflow(request, 'release', () => ((request.body as { erase?: boolean } | undefined)?.erase === true ? { erase: true } : {})),
    'machine.release',
  );

  action(
    'mark-broken',
    'Mark a machine broken, with the reason an operator will see',
    Type.Object({ reason: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }),
    async (request) => {
      const row = await audited(request, async (trx) => {
        const machine = await findMachine(trx, (request.params as { id: string }).id, { forUpdate: true });
        const reason = (request.body as { reason: string }).reason;
        const updated = await lifecycle.transition(trx, {
          machine,
          action: 'mark_broken',
          actor: request.principal.actor,
          requestId: String(request.id),
          reason: { code: 'marked_broken', message: `${reason} (marked by ${request.principal.actor})` },
        });
        return { result: updated, targetId: machine.id, details: { hostname: machine.hostname, status: { old: machine.status, new: 'broken' }, reason } };
      });
      return machines.view(row);
    },
    'machine.mark-broken',
    200,
    MachineSchema,
  );

  action(
    'mark-fixed',
    'Mark a broken machine fixed: ready if it was commissioned, else new',
    undefined,
    async (request) => {
      const row = await audited(request, async (trx) => {
        const machine = await findMachine(trx, (request.params as { id: string }).id, { forUpdate: true });
        const commissioned = await machines.wasCommissioned(trx, machine.id);
        const updated = await lifecycle.transition(trx, {
          machine,
          action: 'mark_fixed',
          actor: request.principal.actor,
          requestId: String(request.id),
          choose: commissioned ? 'ready' : 'new',
        });
        return { result: updated, targetId: machine.id, details: { hostname: machine.hostname, status: { old: machine.status, new: updated.status } } };
      });
      return machines.view(row);
    },
    'machine.mark-fixed',
    200,
    MachineSchema,
  );

  app.post(
    '/machines/allocate',
    {
      config: { auth: { role: 'operator', action: 'machine.allocate', target: 'machine' } },
      schema: {
        tags: ['machine actions'],
        summary: 'Allocate a ready machine matching constraints (409 with why when none matches)',
        body: Type.Object(
          {
            site: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            constraints: Type.Object(
              {
                minCpus: Type.Optional(Type.Integer({ minimum: 1 })),
                minMemoryMiB: Type.Optional(Type.Integer({ minimum: 1 })),
                arch: Type.Optional(Arch),
                tags: Type.Optional(Type.Array(Tag, { maxItems: 32 })),
              },
              { additionalProperties: false },
            ),
            owner: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: MachineSchema },
      },
    },
    async (request) => {
      const body = request.body as {
        site?: string;
        constraints: { minCpus?: number; minMemoryMiB?: number; arch?: 'x86_64' | 'arm64'; tags?: string[] };
        owner?: string;
      };
      const siteId = body.site ? (await findSite(db, body.site)).id : undefined;
      const owner = body.owner ?? request.principal.actor;
      const allocation = await capability(allocationCapability);
      const row = await audited(request, async (trx) => {
        const pick = await allocation.pickMachine(trx, { ...body.constraints, siteId });
        if (pick.machineId === null) {
          throw new SproutError('SPROUT_ERR_NO_MATCHING_MACHINE', pick.reason, { context: { constraints: body.constraints, site: body.site ?? null } });
        }
        const machine = await findMachine(trx, pick.machineId);
        await lifecycle.transition(trx, { machine, action: 'allocate', actor: request.principal.actor, requestId: String(request.id) });
        const owned = await machines.setOwner(trx, machine.id, owner);
        return {
          result: owned,
          targetId: machine.id,
          details: { hostname: machine.hostname, owner, constraints: body.constraints, status: { old: 'ready', new: 'allocated' } },
        };
      });
      return machines.view(row);
    },
  );
};

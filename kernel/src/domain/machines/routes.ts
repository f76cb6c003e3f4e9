/** Machines under /v1/machines: create, import, list, show, update, delete, events. */
import Type from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { ServiceDeps } from '../../api/build-app.ts';
import { CursorParam, refuseCursor } from '../../api/cursor.ts';
import { successEntry } from '../../api/audited.ts';
import { SproutError } from '../../errors/index.ts';
import { isInProgress } from '../lifecycle/transitions.ts';
import { findMachine } from './find-machine.ts';
import { dhcpCapability } from '../../capabilities/dhcp.ts';
import { dnsCapability } from '../../capabilities/dns.ts';
import { forgetMachineAtSite } from '../workflows/control-steps.ts';
import { importBatchSize, importMachines, parseMachineCsv, type ImportRow } from './import-machines.ts';
import { MachineInput, MachineSchema, MachineUpdate, StatusReasonSchema } from './schemas.ts';

export const MachineParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, description: 'Machine id, hostname, MAC of one of its interfaces, or the first 4+ hex digits of its id' }),
});

const ImportResult = Type.Object({
  warnings: Type.Array(Type.String(), { description: 'What the import ignored: unknown CSV columns' }),
  created: Type.Integer(),
  unchanged: Type.Integer(),
  errors: Type.Integer(),
  rows: Type.Array(
    Type.Object({
      row: Type.Integer({ description: 'CSV record number (header = 1; a quoted cell may span lines) or array index + 1' }),
      hostname: Type.Union([Type.String(), Type.Null()]),
      outcome: Type.Union([Type.Literal('created'), Type.Literal('unchanged'), Type.Literal('error')]),
      machineId: Type.Optional(Type.String()),
      errors: Type.Optional(Type.Array(Type.Object({ field: Type.Optional(Type.String()), message: Type.String() }))),
    }),
  ),
});

export const machineRoutes: FastifyPluginAsync<ServiceDeps<'audit' | 'capability' | 'db' | 'machines' | 'networks' | 'siteRevisions'>> = async (
  app,
  { audit, capability, db, machines, networks, siteRevisions, audited },
) => {
  app.addContentTypeParser('text/csv', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.post(
    '/machines',
    {
      config: { auth: { role: 'operator', action: 'machine.create', target: 'machine' } },
      schema: { tags: ['machines'], summary: 'Create a machine (status new)', body: MachineInput, response: { 201: MachineSchema } },
    },
    async (request, reply) => {
      const body = request.body as MachineInput;
      // The machine and its audit record in one statement (the route every bulk enrolment script calls).
      const row = await machines.createRecorded(body, audit, (id) =>
        successEntry(request, { targetId: id, details: { site: body.site, hostname: body.hostname.toLowerCase(), interfaces: body.interfaces.length } }),
      );
      request.audited = true;
      return reply.status(201).send(await machines.view(row));
    },
  );

  app.post(
    '/machines/import',
    {
      config: { auth: { role: 'operator', action: 'machine.import', target: 'machine' } },
      schema: {
        tags: ['machines'],
        summary:
          'Import machines from a JSON array or text/csv (site,hostname,arch,bootMode,mac,tags, optionally bmc_type,bmc_address,bmc_username,bmc_password and cpus,memoryMiB,disks)',
        description:
          'Answers per row: created, unchanged, or error with the field. Re-importing the same data changes nothing. Unknown CSV columns are ignored and named in warnings.',
        body: Type.Union([Type.Array(Type.Unknown(), { maxItems: 10_000 }), Type.String({ description: 'text/csv' })]),
        response: { 200: ImportResult },
      },
    },
    async (request) => {
      const { rows, warnings } =
        typeof request.body === 'string'
          ? parseMachineCsv(request.body)
          : { rows: (request.body as unknown[]).map((body, i) => ({ row: i + 1, body, errors: [] })), warnings: [] };
      // One transaction (and one audit record) per batch, and a turn of the event loop
      // between batches: PGlite has one connection and runs in this thread, so a single
      // transaction over 10 000 rows would hold every other request for its whole length.
      // A batch that fails leaves the earlier ones in place; re-running the import is
      // idempotent, so the client re-sends the same rows.
      const results: ImportRow[] = [];
      for (let start = 0; start < rows.length || start === 0; start += importBatchSize) {
        const batch = rows.slice(start, start + importBatchSize);
        if (start > 0) await new Promise((resolve) => setImmediate(resolve));
        const done = await audited(request, async (trx) => {
          const answers = await importMachines(trx, machines, batch);
          return {
            result: answers,
            details: {
              ...(rows.length > importBatchSize ? { batch: { first: batch[0]?.row ?? null, last: batch.at(-1)?.row ?? null, of: rows.length } } : {}),
              created: answers.filter((r) => r.outcome === 'created').map((r) => r.hostname),
              unchanged: answers.filter((r) => r.outcome === 'unchanged').length,
              errors: answers.filter((r) => r.outcome === 'error').map((r) => ({ row: r.row, errors: r.errors })),
            },
          };
        });
        results.push(...done);
      }
      const count = (outcome: string) => results.filter((r) => r.outcome === outcome).length;
      return { warnings, created: count('created'), unchanged: count('unchanged'), errors: count('error'), rows: results };
    },
  );

  app.get(
    '/machines',
    {
      config: { auth: { role: 'viewer' } },
      schema: {
        tags: ['machines'],
        summary: 'List machines, by hostname, filtered',
        querystring: Type.Object(
          {
            site: Type.Optional(Type.String({ maxLength: 64 })),
            status: Type.Optional(Type.String({ maxLength: 32 })),
            tag: Type.Optional(Type.String({ maxLength: 63 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
            cursor: CursorParam,
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(MachineSchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (request) => machines.list(request.query as never),
  );

  app.get(
    '/machines/:id',
    {
      config: { auth: { role: 'viewer' } },
      schema: { tags: ['machines'], summary: 'Show a machine (by id or hostname)', params: MachineParams, response: { 200: MachineSchema } },
    },
    async (request) => {
      const { machine, siteNetworks } = await machines.show((request.params as { id: string }).id);
      return { ...machine, addresses: await networks.machineAddresses(machine, undefined, siteNetworks) };
    },
  );

  app.patch(
    '/machines/:id',
    {
      config: { auth: { role: 'operator', action: 'machine.update', target: 'machine' } },
      schema: {
        tags: ['machines'],
        summary: 'Change hostname, tags, BMC, expected hardware or owner',
        params: MachineParams,
        body: MachineUpdate,
        response: { 200: MachineSchema },
      },
    },
    async (request) => {
      const row = await audited(request, async (trx) => {
        const machine = await findMachine(trx, (request.params as { id: string }).id, { forUpdate: true });
        const { row, changes } = await machines.update(trx, machine, request.body as MachineUpdate);
        // A new hostname, interface or boot mode changes what the site's agents serve for it.
        await siteRevisions.changed(trx, row.site_id);
        return { result: row, targetId: machine.id, details: changes };
      });
      return machines.view(row);
    },
  );

  app.delete(
    '/machines/:id',
    {
      config: { auth: { role: 'operator', action: 'machine.delete', target: 'machine' } },
      schema: { tags: ['machines'], summary: 'Delete a machine that is not in use', params: MachineParams, response: { 204: Type.Null() } },
    },
    async (request, reply) => {
      await audited(request, async (trx) => {
        const machine = await findMachine(trx, (request.params as { id: string }).id, { forUpdate: true });
        if (isInProgress(machine.status) || machine.status === 'allocated' || machine.status === 'deployed') {
          throw new SproutError(
            'SPROUT_ERR_CONFLICT',
            `machine ${machine.hostname} is ${machine.status}; ${isInProgress(machine.status) ? 'cancel its workflow' : 'release it'} before deleting it`,
          );
        }
        await forgetMachineAtSite({ networks, dhcp: () => capability(dhcpCapability), dns: () => capability(dnsCapability) }, trx, machine);
        await machines.remove(trx, machine);
        await siteRevisions.changed(trx, machine.site_id);
        return { result: null, targetId: machine.id, details: { hostname: machine.hostname, status: machine.status } };
      });
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/machines/:id/events',
    {
      config: { auth: { role: 'viewer' } },
      preValidation: refuseCursor,
      schema: {
        tags: ['machines'],
        summary: 'Lifecycle history with reasons, oldest first',
        params: MachineParams,
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                id: Type.Integer(),
                at: Type.String(),
                action: Type.String(),
                from: Type.Union([Type.String(), Type.Null()]),
                to: Type.String(),
                reason: Type.Union([StatusReasonSchema, Type.Null()], {
                  description: 'Why: a failure always has one; null for an operator action without a reason',
                }),
                actor: Type.String(),
                workflow: Type.Union([Type.String(), Type.Null()]),
              }),
            ),
          }),
        },
      },
    },
    async (request) => ({ items: await machines.events((await findMachine(db, (request.params as { id: string }).id)).id) }),
  );
};

/**
 * Networks and IP allocations under /v1/networks. Reads need a viewer, changes an
 * operator; every change is audited with the IPAM provider that served it.
 */
import Type from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { ServiceDeps } from '../../api/build-app.ts';
import { ProblemSchema } from '../../api/problem.ts';
import {
  AllocateBody,
  AllocationParams,
  AllocationSchema,
  CreateNetworkBody,
  NetworkParams,
  NetworkSchema,
  NetworkWithUtilisationSchema,
  SiteQuery,
  UpdateNetworkBody,
} from './schemas.ts';

type Params = { id: string };
type Query = { site?: string };

export const networkRoutes: FastifyPluginAsync<ServiceDeps<'networks' | 'siteRevisions'>> = async (app, { networks, siteRevisions, audited }) => {
  app.post(
    '/networks',
    {
      config: { auth: { role: 'operator', action: 'network.create', target: 'network' } },
      schema: {
        tags: ['networks'],
        summary: 'Create a provisioning network at a site',
        description: 'The CIDR may not overlap another network of the same site, and its name must be unique there (409).',
        body: CreateNetworkBody,
        response: { 201: NetworkSchema, 409: ProblemSchema },
      },
    },
    async (request, reply) => {
      const body = request.body as CreateNetworkBody;
      const network = await audited(request, async (trx) => {
        const created = await networks.create(body, trx);
        await siteRevisions.changed(trx, created.site.id);
        const { id, createdAt, updatedAt, ...details } = created;
        return { result: created, targetId: id, details };
      });
      return reply.status(201).send(network);
    },
  );

  app.get(
    '/networks',
    {
      config: { auth: { role: 'viewer' } },
      schema: {
        tags: ['networks'],
        summary: 'List networks, optionally of one site',
        querystring: SiteQuery,
        response: { 200: Type.Object({ items: Type.Array(NetworkSchema) }) },
      },
    },
    async (request) => ({ items: await networks.list({ site: (request.query as Query).site }) }),
  );

  app.get(
    '/networks/:id',
    {
      config: { auth: { role: 'viewer' } },
      schema: {
        tags: ['networks'],
        summary: 'Show a network (by id or name) with its utilisation',
        params: NetworkParams,
        querystring: SiteQuery,
        response: { 200: NetworkWithUtilisationSchema, 409: ProblemSchema },
      },
    },
    async (request) => networks.show(refOf(request)),
  );

  app.patch(
    '/networks/:id',
    {
      config: { auth: { role: 'operator', action: 'network.update', target: 'network' } },
      schema: {
        tags: ['networks'],
        summary: 'Change a network (by id or name): name, CIDR, gateway, DNS servers, domain, VLAN, PXE flag, ranges',
        description:
          'The result is checked like a new network (400 naming each bad field; 409 on a taken name or an overlap at the site). ' +
          '409 `SPROUT_ERR_CONFLICT` naming the allocations in the way when the CIDR changes while addresses are allocated, or a new gateway or range covers an allocated address. ' +
          "The audit record holds each changed field as old/new; the site's agents get the change with the next revision of its desired state.",
        params: NetworkParams,
        querystring: SiteQuery,
        body: UpdateNetworkBody,
        response: { 200: NetworkSchema, 409: ProblemSchema },
      },
    },
    async (request) => {
      const change = await audited(request, async (trx) => {
        const made = await networks.update(refOf(request), request.body as UpdateNetworkBody, trx);
        if (Object.keys(made.changes).length > 0) await siteRevisions.changed(trx, made.after.site.id);
        return { result: made, targetId: made.after.id, details: { site: made.after.site.name, network: made.before.name, changes: made.changes } };
      });
      return change.after;
    },
  );

  app.delete(
    '/networks/:id',
    {
      config: { auth: { role: 'operator', action: 'network.delete', target: 'network' } },
      schema: {
        tags: ['networks'],
        summary: 'Delete a network (by id or name); refused while addresses are allocated in it',
        description:
          '409 `SPROUT_ERR_CONFLICT` naming the allocations (address and hostname, a sample and the count) while any exist. The DHCP reservations of the network go with it.',
        params: NetworkParams,
        querystring: SiteQuery,
        response: { 204: Type.Null(), 409: ProblemSchema },
      },
    },
    async (request, reply) => {
      await audited(request, async (trx) => {
        const removed = await networks.remove(refOf(request), trx);
        await siteRevisions.changed(trx, removed.site.id);
        const { id, createdAt, updatedAt, ...details } = removed;
        return { result: null, targetId: id, details };
      });
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/networks/:id/allocations',
    {
      config: { auth: { role: 'viewer' } },
      schema: {
        tags: ['networks'],
        summary: 'List the IP allocations of a network, by address',
        params: NetworkParams,
        querystring: SiteQuery,
        response: { 200: Type.Object({ items: Type.Array(AllocationSchema) }), 409: ProblemSchema },
      },
    },
    async (request) => ({ items: (await networks.allocations(refOf(request))).items.map(toAllocation) }),
  );

  app.post(
    '/networks/:id/allocations',
    {
      config: { auth: { role: 'operator', action: 'ip.allocate', target: 'ip_allocation' } },
      schema: {
        tags: ['networks'],
        summary: 'Allocate an address: the requested one or the next free one outside dynamic and reserved ranges',
        description:
          '409 `SPROUT_ERR_CONFLICT` when the requested address is taken (or is the gateway, or inside a range); 409 `SPROUT_ERR_NETWORK_EXHAUSTED` when no address is free; 400 when the requested address is not a host address of the network.',
        params: NetworkParams,
        querystring: SiteQuery,
        body: AllocateBody,
        response: { 201: AllocationSchema, 409: ProblemSchema },
      },
    },
    async (request, reply) => {
      const allocation = await audited(request, async (trx) => {
        const change = await networks.allocate(refOf(request), request.body as AllocateBody, trx);
        await siteRevisions.changed(trx, change.network.site.id);
        return { result: change.allocation, targetId: change.allocation.id, details: auditDetails(change) };
      });
      return reply.status(201).send(toAllocation(allocation));
    },
  );

  app.delete(
    '/networks/:id/allocations/:allocationId',
    {
      config: { auth: { role: 'operator', action: 'ip.release', target: 'ip_allocation' } },
      schema: {
        tags: ['networks'],
        summary: 'Release an allocation; answers with what was released',
        params: AllocationParams,
        querystring: SiteQuery,
        response: { 200: AllocationSchema, 409: ProblemSchema },
      },
    },
    async (request) => {
      const { allocationId } = request.params as { allocationId: string };
      const allocation = await audited(request, async (trx) => {
        const change = await networks.release(refOf(request), allocationId, trx);
        await siteRevisions.changed(trx, change.network.site.id);
        return { result: change.allocation, targetId: change.allocation.id, details: auditDetails(change) };
      });
      return toAllocation(allocation);
    },
  );
};

function refOf(request: { params: unknown; query: unknown }) {
  return { network: (request.params as Params).id, site: (request.query as Query).site };
}

function auditDetails(change: {
  network: { id: string; name: string; site: { name: string } };
  allocation: { address: string; machineId?: string | null; interfaceId?: string | null; hostname?: string | null };
  provider: string;
}) {
  return {
    site: change.network.site.name,
    network: change.network.name,
    networkId: change.network.id,
    address: change.allocation.address,
    machineId: change.allocation.machineId ?? null,
    interfaceId: change.allocation.interfaceId ?? null,
    hostname: change.allocation.hostname ?? null,
    provider: change.provider,
  };
}

/** Providers may leave optional fields out; the API always shows them. */
function toAllocation(a: {
  id: string;
  networkId: string;
  address: string;
  machineId?: string | null;
  interfaceId?: string | null;
  hostname?: string | null;
  provider: string;
  machineHostname?: string | null;
  interfaceName?: string | null;
}) {
  return {
    id: a.id,
    networkId: a.networkId,
    address: a.address,
    machineId: a.machineId ?? null,
    interfaceId: a.interfaceId ?? null,
    hostname: a.hostname ?? null,
    provider: a.provider,
    ...(a.machineHostname !== undefined ? { machineHostname: a.machineHostname, interfaceName: a.interfaceName ?? null } : {}),
  };
}

/** What a site's agents saw: MACs nobody registered, and the DHCP leases they handed out. */
import Type from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { ServiceDeps } from '../../api/build-app.ts';
import { refuseCursor } from '../../api/cursor.ts';
import { findSite } from './find-site.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: 'Site id or name' }) });
const iso = (v: unknown) => (v ? new Date(v as string).toISOString() : null);

export const observationRoutes: FastifyPluginAsync<ServiceDeps<'db'>> = async (app, { db }) => {
  app.get(
    '/sites/:id/discovered-macs',
    {
      config: { auth: { role: 'viewer' } },
      preValidation: refuseCursor,
      schema: {
        tags: ['sites'],
        summary: 'MAC addresses that asked the site for DHCP without being registered as a machine',
        params: IdParams,
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                mac: Type.String(),
                networkId: Type.Union([Type.String(), Type.Null()]),
                offered: Type.Union([Type.String(), Type.Null()]),
                timesSeen: Type.Integer(),
                firstSeenAt: Type.String(),
                lastSeenAt: Type.String(),
              }),
            ),
          }),
        },
      },
    },
    async (request) => {
      const site = await findSite(db, (request.params as { id: string }).id);
      const rows = await db('discovered_macs').where({ site_id: site.id }).whereNotIn('mac', db('interfaces').select('mac')).orderBy('last_seen_at', 'desc');
      return {
        items: rows.map((r) => ({
          mac: r.mac,
          networkId: r.network_id,
          offered: r.offered,
          timesSeen: r.times_seen,
          firstSeenAt: iso(r.first_seen_at)!,
          lastSeenAt: iso(r.last_seen_at)!,
        })),
      };
    },
  );

  app.get(
    '/sites/:id/leases',
    {
      config: { auth: { role: 'viewer' } },
      preValidation: refuseCursor,
      schema: {
        tags: ['sites'],
        summary: "DHCP leases the site's agent reported",
        params: IdParams,
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                mac: Type.String(),
                address: Type.String(),
                state: Type.String(),
                expiresAt: Type.Union([Type.String(), Type.Null()]),
                machine: Type.Union([Type.String(), Type.Null()]),
                updatedAt: Type.String(),
              }),
            ),
          }),
        },
      },
    },
    async (request) => {
      const site = await findSite(db, (request.params as { id: string }).id);
      const rows = await db('dhcp_leases')
        .leftJoin('interfaces', 'interfaces.mac', 'dhcp_leases.mac')
        .leftJoin('machines', 'machines.id', 'interfaces.machine_id')
        .where('dhcp_leases.site_id', site.id)
        .orderBy('dhcp_leases.address')
        .select('dhcp_leases.*', 'machines.hostname');
      return {
        items: rows.map((r) => ({
          mac: r.mac,
          address: r.address,
          state: r.state,
          expiresAt: iso(r.expires_at),
          machine: r.hostname ?? null,
          updatedAt: iso(r.updated_at)!,
        })),
      };
    },
  );
};

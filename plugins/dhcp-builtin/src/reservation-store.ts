/**
 * The builtin `dhcp` provider: reservations kept in this plugin's `dhcp_reservations`
 * table, inside the caller's transaction when one is given, for the site agent's
 * DHCPv4 server to honour. One reservation per MAC per site; one MAC per address.
 */
import type { Knex } from 'knex';
import { normaliseMac, SproutError, type DhcpProvider, type DhcpReservation, isIpv4 } from '@sprout/kernel/sdk';

interface ReservationRow {
  site_id: string;
  mac: string;
  network_id: string;
  address: string;
  hostname: string | null;
  netboot: boolean;
}

const uniqueViolation = '23505';

function toReservation(row: ReservationRow): DhcpReservation {
  return {
    siteId: row.site_id,
    networkId: row.network_id,
    mac: row.mac,
    address: row.address,
    ...(row.hostname === null ? {} : { hostname: row.hostname }),
    netboot: row.netboot,
  };
}

function addressTaken(reservation: DhcpReservation, holder: string | undefined, cause?: unknown): SproutError {
  const by = holder ? ` by ${holder}` : '';
  return new SproutError('SPROUT_ERR_CONFLICT', `address ${reservation.address} is already reserved${by} in network ${reservation.networkId}`, {
    context: { networkId: reservation.networkId, address: reservation.address, mac: reservation.mac, heldBy: holder },
    cause,
  });
}

export function reservationStore(db: Knex): DhcpProvider {
  return {
    async reserve(reservation, trx) {
      const mac = normaliseMac(reservation.mac);
      if (!isIpv4(reservation.address)) {
        const message = `${JSON.stringify(reservation.address)} is not an IPv4 address`;
        throw new SproutError('SPROUT_ERR_VALIDATION', `DHCP reservation address: ${message}`, { details: [{ field: 'address', message }], context: { mac } });
      }
      const q = trx ?? db;
      // Checked first so a conflict does not abort the caller's transaction; the unique index still decides races.
      const holder = await q<ReservationRow>('dhcp_reservations')
        .where({ network_id: reservation.networkId, address: reservation.address })
        .whereNot((same) => same.where({ site_id: reservation.siteId }).andWhere({ mac }))
        .first('mac');
      if (holder) throw addressTaken({ ...reservation, mac }, holder.mac);
      const row = {
        site_id: reservation.siteId,
        mac,
        network_id: reservation.networkId,
        address: reservation.address,
        hostname: reservation.hostname ?? null,
        netboot: reservation.netboot,
        updated_at: db.fn.now(),
      };
      try {
        await q('dhcp_reservations').insert(row).onConflict(['site_id', 'mac']).merge(['network_id', 'address', 'hostname', 'netboot', 'updated_at']);
      } catch (err) {
        if ((err as { code?: string }).code === uniqueViolation) throw addressTaken({ ...reservation, mac }, undefined, err);
        throw err;
      }
    },

    async unreserve(siteId, mac, trx) {
      await (trx ?? db)('dhcp_reservations')
        .where({ site_id: siteId, mac: normaliseMac(mac) })
        .delete();
    },

    async listReservations(siteId, trx, macs) {
      const query = (trx ?? db)<ReservationRow>('dhcp_reservations').where({ site_id: siteId });
      if (macs)
        query.whereIn(
          'mac',
          macs.map((m) => normaliseMac(m)),
        );
      const rows = await query.orderBy(['network_id', 'address']).select('site_id', 'mac', 'network_id', 'address', 'hostname', 'netboot');
      return rows.map(toReservation);
    },
  };
}

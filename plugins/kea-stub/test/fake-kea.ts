/**
 * A fake Kea Control Agent for tests, forwarding to a dhcp4 server with the host_cmds
 * hook: `POST /` with `{command, service, arguments}`, answered as Kea does with an
 * array of `{result, text, arguments}`. It refuses what Kea refuses (unknown commands
 * and parameters, a missing subnet, a second reservation for an address) and checks
 * basic auth when given credentials. State lives in memory; it listens on 127.0.0.1 only.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeKeaHost {
  'subnet-id': number;
  'hw-address': string;
  'ip-address': string;
  hostname: string;
  'next-server': string;
  'server-hostname': string;
  'boot-file-name': string;
  'option-data': unknown[];
  'client-classes': string[];
  'user-context'?: unknown;
}

export interface FakeKea {
  url: string;
  /** Every command received, with its arguments. */
  commands: { command: string; service: unknown; arguments: any }[];
  hosts: FakeKeaHost[];
  close(): Promise<void>;
}

const reservationKeys = new Set([
  'subnet-id',
  'hw-address',
  'duid',
  'circuit-id',
  'client-id',
  'flex-id',
  'ip-address',
  'hostname',
  'next-server',
  'server-hostname',
  'boot-file-name',
  'option-data',
  'client-classes',
  'user-context',
  'comment',
]);
const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const hw = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export async function startFakeKea(options: { subnets: number[]; auth?: { user: string; password: string }; withoutHostCmds?: boolean }): Promise<FakeKea> {
  const hosts: FakeKeaHost[] = [];
  const commands: FakeKea['commands'] = [];
  const subnets = new Set(options.subnets);

  function run(command: string, args: any): { result: number; text: string; arguments?: unknown } {
    const needSubnet = () => {
      if (!Number.isInteger(args?.['subnet-id'])) return { result: 1, text: "missing parameter 'subnet-id'" };
      if (!subnets.has(args['subnet-id'])) return { result: 1, text: `IPv4 subnet with id '${args['subnet-id']}' does not exist` };
      return undefined;
    };
    const find = () =>
      args['ip-address'] !== undefined
        ? hosts.find((h) => h['subnet-id'] === args['subnet-id'] && h['ip-address'] === args['ip-address'])
        : args['identifier-type'] === 'hw-address'
          ? hosts.find((h) => h['subnet-id'] === args['subnet-id'] && h['hw-address'] === String(args.identifier).toLowerCase())
          : null;
    if (options.withoutHostCmds && command.startsWith('reservation-')) return { result: 2, text: `'${command}' command not supported.` };
    switch (command) {
      case 'reservation-add': {
        const r = args?.reservation;
        if (typeof r !== 'object' || r === null) return { result: 1, text: "missing parameter 'reservation'" };
        const unknown = Object.keys(r).find((k) => !reservationKeys.has(k));
        if (unknown) return { result: 1, text: `unsupported configuration parameter '${unknown}'` };
        if (!Number.isInteger(r['subnet-id'])) return { result: 1, text: "missing parameter 'subnet-id'" };
        if (!subnets.has(r['subnet-id'])) return { result: 1, text: `IPv4 subnet with id '${r['subnet-id']}' does not exist` };
        if (typeof r['hw-address'] !== 'string' || !hw.test(r['hw-address'])) return { result: 1, text: `invalid host identifier value '${r['hw-address']}'` };
        if (typeof r['ip-address'] !== 'string' || !ipv4.test(r['ip-address']))
          return { result: 1, text: `Failed to convert string to address '${r['ip-address']}': Invalid argument` };
        if (r['next-server'] !== undefined && !ipv4.test(r['next-server'])) return { result: 1, text: `next-server must contain an IPv4 address` };
        if (
          r['option-data'] !== undefined &&
          (!Array.isArray(r['option-data']) || r['option-data'].some((o: any) => o.name === undefined && o.code === undefined))
        ) {
          return { result: 1, text: "option data configuration requires one of 'code' or 'name' parameters to be specified" };
        }
        const mac = r['hw-address'].toLowerCase();
        const subnet = r['subnet-id'];
        if (hosts.some((h) => h['subnet-id'] === subnet && h['hw-address'] === mac)) return { result: 1, text: 'Database duplicate entry error' };
        if (hosts.some((h) => h['subnet-id'] === subnet && h['ip-address'] === r['ip-address'])) {
          return {
            result: 1,
            text: `failed to add new host using the HW address '${mac}' and DUID '(null)' to the IPv4 subnet id '${subnet}' for the address ${r['ip-address']}: There's already a reservation for this address`,
          };
        }
        hosts.push({
          'subnet-id': subnet,
          'hw-address': mac,
          'ip-address': r['ip-address'],
          hostname: r.hostname ?? '',
          'next-server': r['next-server'] ?? '0.0.0.0',
          'server-hostname': r['server-hostname'] ?? '',
          'boot-file-name': r['boot-file-name'] ?? '',
          'option-data': r['option-data'] ?? [],
          'client-classes': r['client-classes'] ?? [],
          ...(r['user-context'] === undefined ? {} : { 'user-context': r['user-context'] }),
        });
        return { result: 0, text: 'Host added.' };
      }
      case 'reservation-get': {
        const bad = needSubnet();
        if (bad) return bad;
        if (args['ip-address'] === undefined && (args['identifier-type'] === undefined || args.identifier === undefined))
          return { result: 1, text: "missing parameter 'ip-address' or 'identifier-type'" };
        const host = find();
        return host ? { result: 0, text: 'Host found.', arguments: host } : { result: 3, text: 'Host not found.' };
      }
      case 'reservation-del': {
        const bad = needSubnet();
        if (bad) return bad;
        if (args['ip-address'] === undefined && (args['identifier-type'] !== 'hw-address' || args.identifier === undefined))
          return { result: 1, text: "missing parameter 'ip-address' or 'identifier-type'" };
        const host = find();
        if (!host) return { result: 1, text: 'Host not deleted (not found).' };
        hosts.splice(hosts.indexOf(host), 1);
        return { result: 0, text: 'Host deleted.' };
      }
      case 'reservation-get-all': {
        const bad = needSubnet();
        if (bad) return bad;
        const found = hosts.filter((h) => h['subnet-id'] === args['subnet-id']);
        return { result: found.length ? 0 : 3, text: `${found.length} IPv4 host(s) found.`, arguments: { hosts: found } };
      }
      default:
        return { result: 2, text: `'${command}' command not supported.` };
    }
  }

  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (options.auth) {
      const expected = `Basic ${Buffer.from(`${options.auth.user}:${options.auth.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) return send(401, { result: 401, text: 'Unauthorized' });
    }
    if (req.method !== 'POST' || req.url !== '/') return send(400, { result: 1, text: 'Bad Request' });
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) return send(415, { result: 1, text: 'Unsupported Media Type' });
    let body: any;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(400, { result: 1, text: 'Bad Request' });
    }
    commands.push({ command: body.command, service: body.service, arguments: body.arguments });
    if (typeof body.command !== 'string') return send(200, { result: 1, text: "missing 'command' parameter" });
    if (!Array.isArray(body.service) || body.service.length !== 1 || body.service[0] !== 'dhcp4') {
      return send(200, [{ result: 1, text: `forwarding to ${JSON.stringify(body.service)} is not configured: this agent forwards to dhcp4 only` }]);
    }
    send(200, [structuredClone(run(body.command, body.arguments ?? {}))]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    commands,
    hosts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

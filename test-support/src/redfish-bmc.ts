/**
 * A Redfish BMC for tests: an HTTPS server on 127.0.0.1 (a self-signed certificate made
 * with the openssl CLI at test time) serving the DMTF Redfish service root, a
 * SessionService and one ComputerSystem whose power is a real QEMU VM (PowerVm). The
 * Reset action really starts, stops and resets the VM; the Boot override decides which
 * device the VM boots first, and a `Once` override returns to None/Disabled after that
 * boot, as real BMCs do. Like iDRAC, it answers 409 to On when on and ForceOff when off,
 * so a driver that is not idempotent by itself is caught.
 *
 * Tests see the VM, every request (passwords left out), and can change the required
 * credentials or expire all sessions. `deadAddress` and `silentServer` are BMCs that
 * cannot be reached and that never answer.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { PowerVm, PowerVmDevice } from './power-vm.ts';

export interface RedfishBmcOptions {
  /** Where the certificate and key are written (the test's temp dir). */
  dir: string;
  vm: PowerVm;
  username?: string;
  password?: string;
  /** false: no SessionService, HTTP basic auth only (older BMCs). Default true. */
  sessions?: boolean;
  /** The device the VM boots first without a Boot override. Default disk. */
  defaultBoot?: PowerVmDevice;
  /** true: a PATCH of Boot answers 200 but changes nothing (firmware that drops the override). */
  ignoresBootOverride?: boolean;
}

export interface RedfishBmcRequest {
  method: string;
  path: string;
  /** How the request authenticated: a session token, basic, none, or failed (`denied`). */
  auth: 'session' | 'basic' | 'none' | 'denied';
  status: number;
  /** The JSON body, with any Password left out. */
  body?: unknown;
}

export interface RedfishBmc {
  /** `https://127.0.0.1:<port>`: the bmc.address. */
  address: string;
  /** The PEM file of the BMC's self-signed certificate. */
  certificate: string;
  vm: PowerVm;
  requests: RedfishBmcRequest[];
  /** The device of each boot (power on or reset) the BMC started, in order. */
  bootLog: PowerVmDevice[];
  /** From now on only these credentials log in (existing sessions stay). */
  requireCredentials(username: string, password: string): void;
  /** Ends every session, as a BMC does after its session timeout. */
  expireSessions(): void;
  /** The device the VM boots from at its next power on or reset, as the Boot override says. */
  nextBoot(): PowerVmDevice;
  close(): Promise<void>;
}

const systemPath = '/redfish/v1/Systems/1';
const sessionsPath = '/redfish/v1/SessionService/Sessions';
const resetTypes = ['On', 'ForceOff', 'GracefulShutdown', 'ForceRestart', 'PowerCycle'];
const bootTargets = ['None', 'Pxe', 'Hdd', 'Cd', 'BiosSetup'];
const bootEnabled = ['Disabled', 'Once', 'Continuous'];
const registry = 'Base.1.16.0';

/** A self-signed certificate for 127.0.0.1 (EC: fast to make), written into `dir`. */
export function selfSignedCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'bmc-cert.pem');
  const key = join(dir, 'bmc-key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=redfish-bmc.test',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'pipe' },
  );
  return { cert, key };
}

class RedfishFault extends Error {
  constructor(
    readonly status: number,
    readonly messageId: string,
    message: string,
    readonly resolution: string,
  ) {
    super(message);
  }
}

/** A Redfish error body: a general error whose ExtendedInfo carries the registry message. */
function errorBody(fault: RedfishFault): object {
  return {
    error: {
      code: `${registry}.GeneralError`,
      message: 'A general error has occurred. See ExtendedInfo for more information.',
      '@Message.ExtendedInfo': [
        {
          '@odata.type': '#Message.v1_1_1.Message',
          MessageId: `${registry}.${fault.messageId}`,
          Message: fault.message,
          Severity: 'Critical',
          Resolution: fault.resolution,
        },
      ],
    },
  };
}

export async function startRedfishBmc(options: RedfishBmcOptions): Promise<RedfishBmc> {
  const { cert, key } = selfSignedCertificate(options.dir);
  const vm = options.vm;
  const offerSessions = options.sessions !== false;
  let credentials = { username: options.username ?? 'admin', password: options.password ?? 'admin-password' };
  const sessions = new Map<string, { id: string; username: string }>();
  const requests: RedfishBmcRequest[] = [];
  const bootLog: PowerVmDevice[] = [];
  let boot = { BootSourceOverrideTarget: 'None', BootSourceOverrideEnabled: 'Disabled' };
  // Power actions take QEMU time: one at a time, in order.
  let actions: Promise<unknown> = Promise.resolve();

  const nextBoot = (): PowerVmDevice => {
    if (boot.BootSourceOverrideEnabled !== 'Disabled' && boot.BootSourceOverrideTarget === 'Pxe') return 'network';
    if (boot.BootSourceOverrideEnabled !== 'Disabled' && boot.BootSourceOverrideTarget === 'Hdd') return 'disk';
    return options.defaultBoot ?? 'disk';
  };
  /** Boots the VM (power on or reset) with the override's device; a Once override is then spent. */
  const booting = async (start: (device: PowerVmDevice) => Promise<void>) => {
    const device = nextBoot();
    await start(device);
    bootLog.push(device);
    if (boot.BootSourceOverrideEnabled === 'Once') boot = { BootSourceOverrideTarget: 'None', BootSourceOverrideEnabled: 'Disabled' };
  };

  const computerSystem = () => ({
    '@odata.id': systemPath,
    '@odata.type': '#ComputerSystem.v1_20_0.ComputerSystem',
    Id: '1',
    Name: 'Sprout test VM',
    SystemType: 'Virtual',
    PowerState: vm.running() ? 'On' : 'Off',
    Boot: { ...boot, 'BootSourceOverrideTarget@Redfish.AllowableValues': bootTargets },
    Actions: { '#ComputerSystem.Reset': { target: `${systemPath}/Actions/ComputerSystem.Reset`, 'ResetType@Redfish.AllowableValues': resetTypes } },
  });

  const conflict = (message: string) => new RedfishFault(409, 'OperationNotAllowed', message, 'Check the PowerState before requesting this ResetType.');

  async function reset(type: unknown): Promise<void> {
    if (typeof type !== 'string')
      throw new RedfishFault(
        400,
        'ActionParameterMissing',
        'The action ComputerSystem.Reset requires the parameter ResetType to be present in the request body.',
        'Supply the action with the required parameter in the request body when the request is resubmitted.',
      );
    if (!resetTypes.includes(type))
      throw new RedfishFault(
        400,
        'ActionParameterValueNotInList',
        `The value '${type}' for the parameter ResetType in the action ComputerSystem.Reset is not in the list of acceptable values.`,
        'Choose a value from the enumeration list that the implementation can support and resubmit the request if the operation failed.',
      );
    const on = vm.running();
    if (type === 'On') {
      if (on) throw conflict('The system is already powered on.');
      return booting((device) => vm.start(device));
    }
    if (!on) throw conflict(`The system is powered off: ResetType ${type} needs it on.`);
    if (type === 'ForceOff') return vm.stop();
    if (type === 'GracefulShutdown') return vm.acpiShutdown();
    return booting((device) => vm.reset(device));
  }

  function patchSystem(body: unknown): void {
    const patch = body as { Boot?: Record<string, unknown> } | undefined;
    const unknown = Object.keys(patch ?? {}).filter((k) => k !== 'Boot');
    if (!patch?.Boot || unknown.length > 0)
      throw new RedfishFault(
        400,
        'PropertyNotWritable',
        `The property ${unknown[0] ?? 'Boot'} is a read-only property and cannot be assigned a value.`,
        'Remove the property from the request body and resubmit the request if the operation failed.',
      );
    const next = { ...boot };
    for (const [name, value] of Object.entries(patch.Boot)) {
      const allowed = name === 'BootSourceOverrideTarget' ? bootTargets : name === 'BootSourceOverrideEnabled' ? bootEnabled : undefined;
      if (!allowed)
        throw new RedfishFault(
          400,
          'PropertyUnknown',
          `The property Boot/${name} is not in the list of valid properties for the resource.`,
          'Remove the unknown property from the request body and resubmit the request if the operation failed.',
        );
      if (typeof value !== 'string' || !allowed.includes(value))
        throw new RedfishFault(
          400,
          'PropertyValueNotInList',
          `The value '${String(value)}' for the property Boot/${name} is not in the list of acceptable values.`,
          'Choose a value from the enumeration list that the implementation can support and resubmit the request if the operation failed.',
        );
      (next as Record<string, string>)[name] = value;
    }
    if (!options.ignoresBootOverride) boot = next;
  }

  /** Who sent the request: a live session, valid basic credentials, nobody, or someone refused. */
  function authOf(req: IncomingMessage): RedfishBmcRequest['auth'] {
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string') return sessions.has(token) ? 'session' : 'denied';
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const [user, ...rest] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
      return user === credentials.username && rest.join(':') === credentials.password ? 'basic' : 'denied';
    }
    return 'none';
  }

  async function route(method: string, path: string, auth: RedfishBmcRequest['auth'], body: unknown, res: ServerResponse): Promise<[number, unknown?]> {
    if (method === 'GET' && (path === '/redfish' || path === '/redfish/')) return [200, { v1: '/redfish/v1/' }];
    if (method === 'GET' && (path === '/redfish/v1' || path === '/redfish/v1/')) {
      return [
        200,
        {
          '@odata.id': '/redfish/v1/',
          '@odata.type': '#ServiceRoot.v1_15_0.ServiceRoot',
          Id: 'RootService',
          Name: 'Root Service',
          RedfishVersion: '1.17.0',
          UUID: '92384634-2938-2342-8820-489239905423',
          Systems: { '@odata.id': '/redfish/v1/Systems' },
          ...(offerSessions
            ? { SessionService: { '@odata.id': '/redfish/v1/SessionService' }, Links: { Sessions: { '@odata.id': sessionsPath } } }
            : { Links: {} }),
        },
      ];
    }
    if (offerSessions && method === 'POST' && path === sessionsPath) {
      const login = body as { UserName?: unknown; Password?: unknown } | undefined;
      if (login?.UserName !== credentials.username || login?.Password !== credentials.password) {
        throw new RedfishFault(
          401,
          'ResourceAtUriUnauthorized',
          `While accessing the resource at '${sessionsPath}', the service received an authorization error 'invalid user name or password'.`,
          'Ensure that the appropriate access is provided for the service in order for it to access the URI.',
        );
      }
      const token = randomBytes(24).toString('hex');
      const id = randomUUID();
      sessions.set(token, { id, username: credentials.username });
      res.setHeader('X-Auth-Token', token);
      res.setHeader('Location', `${sessionsPath}/${id}`);
      return [
        201,
        { '@odata.id': `${sessionsPath}/${id}`, '@odata.type': '#Session.v1_7_0.Session', Id: id, Name: 'User Session', UserName: credentials.username },
      ];
    }
    if (auth !== 'session' && auth !== 'basic') {
      throw new RedfishFault(
        401,
        'NoValidSession',
        'There is no valid session established with the implementation.',
        'Establish a session before attempting any operations.',
      );
    }
    if (offerSessions && path === '/redfish/v1/SessionService' && method === 'GET') {
      return [
        200,
        {
          '@odata.id': '/redfish/v1/SessionService',
          '@odata.type': '#SessionService.v1_1_9.SessionService',
          Id: 'SessionService',
          Name: 'Session Service',
          ServiceEnabled: true,
          SessionTimeout: 600,
          Sessions: { '@odata.id': sessionsPath },
        },
      ];
    }
    if (offerSessions && path.startsWith(`${sessionsPath}/`) && method === 'DELETE') {
      const id = path.slice(sessionsPath.length + 1);
      for (const [token, session] of sessions) if (session.id === id) sessions.delete(token);
      return [204];
    }
    if (path === '/redfish/v1/Systems' && method === 'GET') {
      return [
        200,
        {
          '@odata.id': '/redfish/v1/Systems',
          '@odata.type': '#ComputerSystemCollection.ComputerSystemCollection',
          Name: 'Computer System Collection',
          'Members@odata.count': 1,
          Members: [{ '@odata.id': systemPath }],
        },
      ];
    }
    if (path === systemPath && method === 'GET') return [200, computerSystem()];
    if (path === systemPath && method === 'PATCH') {
      patchSystem(body);
      return [200, computerSystem()];
    }
    if (path === `${systemPath}/Actions/ComputerSystem.Reset` && method === 'POST') {
      const done = actions.then(() => reset((body as { ResetType?: unknown } | undefined)?.ResetType));
      actions = done.catch(() => undefined);
      await done;
      return [204];
    }
    throw new RedfishFault(
      404,
      'ResourceNotFound',
      `The requested resource of type Resource named '${path}' was not found.`,
      'Provide a valid resource identifier and resubmit the request.',
    );
  }

  const server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const method = req.method ?? 'GET';
      const path = new URL(req.url ?? '/', 'https://bmc').pathname;
      const auth = authOf(req);
      let body: unknown;
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      } catch {
        body = undefined;
      }
      const entry: RedfishBmcRequest = { method, path, auth, status: 0 };
      if (body && typeof body === 'object') entry.body = Object.fromEntries(Object.entries(body).filter(([k]) => k !== 'Password'));
      requests.push(entry);
      let status: number;
      let answer: unknown;
      try {
        [status, answer] = await route(method, path, auth, body, res);
      } catch (err) {
        const fault =
          err instanceof RedfishFault
            ? err
            : new RedfishFault(500, 'InternalError', `The request failed due to an internal service error: ${(err as Error).message}`, 'Resubmit the request.');
        [status, answer] = [fault.status, errorBody(fault)];
      }
      entry.status = status;
      res.statusCode = status;
      res.setHeader('OData-Version', '4.0');
      if (answer === undefined) return res.end();
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    address: `https://127.0.0.1:${port}`,
    certificate: cert,
    vm,
    requests,
    bootLog,
    requireCredentials(username, password) {
      credentials = { username, password };
    },
    expireSessions() {
      sessions.clear();
    },
    nextBoot,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An https URL on a 127.0.0.1 port nothing listens on (taken, then given back). */
export async function deadAddress(): Promise<string> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `https://127.0.0.1:${port}`;
}

/** A server that accepts TCP connections and never says a word (a hung BMC). */
export async function silentServer(): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    address: `https://127.0.0.1:${port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The agent's HTTP boot service: per-machine iPXE scripts from the boot intents in the
 * desired state (`GET /boot/ipxe?mac=…`), the artifacts they load (`GET /artifacts/…`),
 * and the installer's metadata and callbacks. A machine refused a boot is told why,
 * and the agent reports it. The script with a per-boot token, and the routes that take
 * the token, answer only the address this agent's DHCP leased the machine (boot-binding.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentServiceFactory } from '@sprout/kernel/sdk';
import { httpServiceDefaults, parseMac, SproutError } from '@sprout/kernel/sdk';
import { ipxeScript, STEP_HOLD_MS } from './ipxe-script.ts';
import { send, serveArtifact } from './artifacts.ts';
import { callback as handleCallback, metadata, type CallbackDeps } from './machine-callbacks.ts';
import type { MachineWaits } from '../../machine-waits.ts';
import { bindingRefusal, peerAddress, type BootBinding } from './boot-binding.ts';
import { machineNetwork, nocloudDocument, nocloudFiles, type NocloudFile } from './nocloud.ts';
import { heardFrom } from '../../first-boot.ts';

interface HttpBootSettings {
  port: number;
  address: string;
  /** URL machines use to reach this service (default http://<address>:<port>). */
  baseUrl?: string;
  artifactRoot: string;
  installer: { kernel: string; initrd: string; cmdline: string };
  /**
   * Answer a MAC's boot (script, metadata, callbacks) only from the address this agent's
   * DHCP leased it. Default true; false where an external DHCP server leases the addresses.
   */
  bindBootToLease: boolean;
}

const known = new Set(['port', 'address', 'baseUrl', 'artifactRoot', 'installer', 'bindBootToLease']);

export function parseHttpBootSettings(settings: Record<string, unknown>): HttpBootSettings {
  const unknown = Object.keys(settings).filter((k) => !known.has(k));
  if (unknown.length) throw new SproutError('SPROUT_ERR_CONFIG', `services.http: unknown setting(s) ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
  if (typeof settings.artifactRoot !== 'string')
    throw new SproutError('SPROUT_ERR_CONFIG', 'services.http.artifactRoot: the folder kernels, initrds and images are served from is required');
  const installer = (settings.installer ?? {}) as Partial<HttpBootSettings['installer']>;
  if (settings.bindBootToLease !== undefined && typeof settings.bindBootToLease !== 'boolean') {
    throw new SproutError('SPROUT_ERR_CONFIG', `services.http.bindBootToLease: true or false, not ${JSON.stringify(settings.bindBootToLease)}`);
  }
  return {
    port: Number(settings.port ?? httpServiceDefaults.port),
    address: String(settings.address ?? httpServiceDefaults.address),
    baseUrl: typeof settings.baseUrl === 'string' ? settings.baseUrl.replace(/\/$/, '') : undefined,
    artifactRoot: settings.artifactRoot,
    installer: {
      kernel: installer.kernel ?? 'installer/vmlinuz',
      initrd: installer.initrd ?? 'installer/initrd.img',
      cmdline: installer.cmdline ?? 'console=ttyS0',
    },
    bindBootToLease: settings.bindBootToLease ?? true,
  };
}

const REFUSAL_REPORT_INTERVAL_MS = 60_000;

/** The builtin http service, bound to the agent's machine waits and report journal. */
export function httpBootService(deps: {
  waits: MachineWaits;
  reportFor: CallbackDeps['reportFor'];
  markInstalled: CallbackDeps['markInstalled'];
}): AgentServiceFactory {
  return async (ctx) => {
    const settings = parseHttpBootSettings(ctx.settings);
    const refusalsReported = new Map<string, number>();
    const callbacks: CallbackDeps = {
      waits: deps.waits,
      desiredState: ctx.desiredState,
      reportFor: deps.reportFor,
      baseUrl: () => baseUrl,
      artifactRoot: settings.artifactRoot,
      markInstalled: deps.markInstalled,
    };
    const counts = { scripts: 0, waiting: 0, refused: 0, unbound: 0, artifacts: 0, notFound: 0, metadata: 0, callbacks: 0, nocloud: 0 };
    const binding: BootBinding = { enabled: settings.bindBootToLease, leases: ctx.leases };
    if (!settings.bindBootToLease)
      ctx.logger.warn({}, 'http boot: bindBootToLease is off: anyone on the provisioning network who knows a MAC can take its per-boot token');
    /** A refused machine retries every few seconds: each route, source, MAC and reason is reported once a minute. */
    const reportRefusal = (key: string, payload: { mac: string | null; reason: string } & Record<string, unknown>) => {
      if ((refusalsReported.get(key) ?? 0) + REFUSAL_REPORT_INTERVAL_MS > Date.now()) return;
      refusalsReported.set(key, Date.now());
      if (refusalsReported.size > 10_000) refusalsReported.delete(refusalsReported.keys().next().value!);
      ctx.report('boot.refused', payload);
    };
    /** Refuses a boot asked for from an address not leased to the MAC (403, reported); true when it did. */
    const refusedUnbound = (
      route: 'script' | 'metadata' | 'callback' | 'nocloud',
      mac: string | undefined,
      req: IncomingMessage,
      res: ServerResponse,
      machineId?: string,
    ): boolean => {
      const source = peerAddress(req.socket.remoteAddress);
      const reason = bindingRefusal(binding, mac, source);
      if (!reason) return false;
      counts.refused++;
      counts.unbound++;
      reportRefusal(`${route} ${source} ${mac} ${reason}`, { mac: mac ?? null, reason, route, source, ...(machineId ? { machineId } : {}) });
      send(res, 403, `Sprout will not boot this machine: ${reason}`);
      return true;
    };
    /** The MAC a per-boot token's machine boots from (its boot intent's), when the token is valid. */
    const tokenHolder = (token: string): { mac: string | undefined; machineId: string } | undefined => {
      const wait = deps.waits.byToken(token);
      if (!wait) return undefined;
      const mac = ctx.desiredState().bootIntents?.find((b) => b.machineId === wait.machineId)?.mac;
      return { mac: parseMac(mac), machineId: wait.machineId };
    };
    const hostnameOf = (machineId: string | undefined) =>
      machineId ? ctx.desiredState().bootIntents?.find((b) => b.machineId === machineId)?.hostname : undefined;
    let baseUrl = settings.baseUrl ?? '';
    const server = createServer((req, res) => {
      // A request the handler cannot even read (a malformed %-escape, an unparsable target) is the client's error; thrown here it would end the agent.
      try {
        route(req, res);
      } catch (err) {
        ctx.logger.warn({ err: (err as Error).message, url: req.url }, 'http: malformed request');
        if (!res.headersSent) send(res, 400, 'malformed request');
      }
    });
    const route = (req: IncomingMessage, res: ServerResponse) => {
      // The URL parser folds `..` away, so a traversal attempt lands outside /artifacts/ as a 404.
      const url = new URL(req.url ?? '/', 'http://agent');
      const callback = /^\/callbacks\/([\w-]{16,64})\/([a-z-]{1,32})$/.exec(url.pathname);
      if (callback && req.method === 'POST') {
        counts.callbacks++;
        const holder = tokenHolder(callback[1]);
        if (holder && refusedUnbound('callback', holder.mac, req, res, holder.machineId)) return;
        const wait = deps.waits.byToken(callback[1]);
        return void handleCallback(callbacks, callback[1], callback[2], req, res)
          .then((status) =>
            ctx.logger.info(
              {
                machine: wait?.machineId,
                hostname: hostnameOf(wait?.machineId),
                mac: holder?.mac,
                workflow: wait?.workflowId,
                step: wait?.step,
                event: callback[2],
                status,
              },
              `http boot: callback ${callback[2]}`,
            ),
          )
          .catch((err) => (ctx.logger.error({ err }, 'http: callback failed'), send(res, 500, 'callback failed')));
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return void send(res, 405, 'only GET and HEAD (POST for callbacks)');
      const meta = /^\/metadata\/([\w-]{1,64})$/.exec(url.pathname);
      if (meta) {
        const holder = tokenHolder(meta[1]);
        if (holder && refusedUnbound('metadata', holder.mac, req, res, holder.machineId)) return;
        counts.metadata++;
        const wait = deps.waits.byToken(meta[1]);
        if (wait?.workItemId)
          deps.reportFor(wait.workItemId, 'task.log', {
            log: [`${hostnameOf(wait.machineId) ?? wait.machineId} fetched its metadata (step ${wait.step})`],
            machineHeardAt: new Date().toISOString(),
          });
        return void metadata(callbacks, meta[1], url.searchParams.get('format'), res)
          .then((status) =>
            ctx.logger.info(
              { machine: wait?.machineId, hostname: hostnameOf(wait?.machineId), mac: holder?.mac, workflow: wait?.workflowId, step: wait?.step, status },
              'http boot: metadata served',
            ),
          )
          .catch((err) => (ctx.logger.error({ err }, 'http: metadata failed'), send(res, 500, 'metadata failed')));
      }
      // The installed system's cloud-init datasource (nocloud.ts): only a first-boot wait's token, only from the machine's leased address.
      const seed = /^\/nocloud\/([\w-]{16,64})\/([a-z-]{1,32})$/.exec(url.pathname);
      if (seed) {
        const wait = deps.waits.byToken(seed[1]);
        if (wait?.step !== 'first-boot') return void send(res, 403, 'this seed token is not valid (unknown, or the deploy it belongs to has ended)');
        if (!(nocloudFiles as readonly string[]).includes(seed[2])) return void send(res, 404, `no NoCloud file ${seed[2]}; known: ${nocloudFiles.join(', ')}`);
        const holder = tokenHolder(seed[1]);
        if (holder && refusedUnbound('nocloud', holder.mac, req, res, holder.machineId)) return;
        counts.nocloud++;
        heardFrom(deps.waits, wait, `cloud-init fetched its ${seed[2]}`);
        if (wait.workItemId)
          deps.reportFor(wait.workItemId, 'task.log', {
            log: [`the installed OS (cloud-init) fetched its ${seed[2]}`],
            machineHeardAt: new Date().toISOString(),
          });
        const body = nocloudDocument(seed[2] as NocloudFile, wait, machineNetwork(ctx.desiredState(), wait.machineId), baseUrl);
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
        return void res.end(req.method === 'HEAD' ? undefined : body);
      }
      if (url.pathname === '/boot/ipxe') {
        const mac = parseMac(url.searchParams.get('mac'));
        if (!mac) return void send(res, 400, 'mac query parameter must be a MAC address, e.g. ?mac=${net0/mac}');
        if (refusedUnbound('script', mac, req, res)) return;
        // The machine is up and in iPXE: a manual power-on waiting for it ends.
        ctx.sightings?.seen(mac, 'http');
        const waited = Math.min(Math.max(Math.trunc(Number(url.searchParams.get('waited'))) || 0, 0), 1_000_000);
        const answer = () => {
          const intent = ctx.desiredState().bootIntents?.find((b) => b.mac === mac);
          const token = intent ? deps.waits.byMachine(intent.machineId)?.token : undefined;
          return { intent, ...ipxeScript({ intent, mac, baseUrl, installer: settings.installer, token, waited }) };
        };
        // A machine whose step is a moment away (its power-on raced the step to this agent) is
        // held here for up to STEP_HOLD_MS and answered as soon as the step arrives, rather
        // than sent to sleep in iPXE for STEP_WAIT_SECONDS.
        const first = answer();
        const ready = first.waiting ? holdForStep(answer, req) : Promise.resolve(first);
        return void ready.then((answered) => {
          if (!res.writable) return;
          const { intent, script, refusal, waiting } = answered;
          const who = {
            mac,
            address: peerAddress(req.socket.remoteAddress),
            machine: intent?.machineId,
            hostname: intent?.hostname,
            intent: intent?.intent,
            workflow: intent?.workflow ?? undefined,
          };
          if (waiting) counts.waiting++;
          else if (refusal) {
            counts.refused++;
            reportRefusal(`script ${mac} ${refusal}`, { mac, reason: refusal });
            ctx.logger.info({ ...who, refusal }, 'http boot: boot refused');
          } else {
            counts.scripts++;
            ctx.logger.info(who, `http boot: ${intent?.intent ?? 'boot'} script served`);
          }
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(script) });
          res.end(script);
        });
      }
      if (url.pathname.startsWith('/artifacts/')) {
        counts.artifacts++;
        const artifact = decodeURIComponent(url.pathname.slice('/artifacts/'.length));
        const source = peerAddress(req.socket.remoteAddress);
        return void serveArtifact(settings.artifactRoot, artifact, req, res).then(
          (status) => {
            if (status === 404) counts.notFound++;
            // Written when the response ends: a download the machine broke off counts what was sent.
            const ended = () => {
              ctx.logger.info(
                { artifact, from: source, mac: ctx.leases?.lookup()?.macAt(source), status, range: req.headers.range, complete: res.writableFinished },
                'http boot: artifact fetched',
              );
            };
            if (res.closed) ended();
            else res.once('close', ended);
          },
          (err) => (ctx.logger.error({ err }, 'http: artifact failed'), res.headersSent ? res.destroy() : send(res, 500, 'artifact could not be read')),
        );
      }
      counts.notFound++;
      send(res, 404, `no route ${url.pathname}`);
    };
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(new SproutError('SPROUT_ERR_UNAVAILABLE', `services.http: cannot listen on ${settings.address}:${settings.port}: ${err.message}`)),
      );
      server.listen(settings.port, settings.address, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    if (!baseUrl && settings.address === '0.0.0.0') {
      ctx.logger.warn(
        { port },
        `http boot: no baseUrl, and address 0.0.0.0 says nothing about where machines reach this agent: they are told http://127.0.0.1:${port}, which only works on this host; set services.http.baseUrl to http://<provisioning address>:${port}`,
      );
    }
    baseUrl ||= `http://${settings.address === '0.0.0.0' ? '127.0.0.1' : settings.address}:${port}`;
    ctx.logger.info({ port, baseUrl }, 'http boot: serving');
    return {
      health: () => ({ port, baseUrl, bootBinding: settings.bindBootToLease ? (ctx.leases?.lookup() ? 'lease' : 'no-dhcp-service') : 'off', ...counts }),
      stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  };
}

/** Asks `answer` again every 50 ms until it is no longer a wait, STEP_HOLD_MS pass or the machine hangs up; resolves with the last answer. */
function holdForStep<T extends { waiting?: string }>(answer: () => T, req: IncomingMessage): Promise<T> {
  return new Promise((resolve) => {
    const until = Date.now() + STEP_HOLD_MS;
    const look = () => {
      const now = answer();
      if (!now.waiting || Date.now() >= until || req.socket.destroyed) return resolve(now);
      setTimeout(look, 50);
    };
    setTimeout(look, 50);
  });
}

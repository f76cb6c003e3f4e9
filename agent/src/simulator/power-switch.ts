/**
 * The lab's BMC: a small HTTP power switch on 127.0.0.1 in front of the machine
 * simulator, so the `lab` power driver (plugins/power-lab) powers simulated machines the
 * way the ipmi and redfish drivers power real ones, without root. One switch serves every
 * machine plugged into the simulator, addressed by MAC:
 *
 *   GET  /machines                      → { machines: [<state>] }
 *   GET  /machines/<mac>/power          → <state> = { mac, state: 'on'|'off', nextBoot, starts }
 *   POST /machines/<mac>/power          { action: 'on'|'off'|'cycle', soft?: boolean } → <state>
 *   PUT  /machines/<mac>/boot           { device: 'network'|'disk' } → <state>
 *                                        (network: the next boot only; disk: from the next boot on)
 *
 * Errors answer `{ error }` with 404 (no such machine), 400 (a bad request) or 405.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parseMac } from '@sprout/kernel/sdk';

export type SwitchBootDevice = 'network' | 'disk';

/** A simulated machine as its switch reports it. */
export interface SwitchState {
  mac: string;
  state: 'on' | 'off';
  /** The device the firmware boots from next. */
  nextBoot: SwitchBootDevice;
  /** Power-ons and resets so far. */
  starts: number;
}

/** What the switch works: the machine simulator implements it. */
export interface SwitchedMachines {
  list(): SwitchState[];
  get(mac: string): SwitchState | undefined;
  power(mac: string, action: 'on' | 'off' | 'cycle', soft: boolean): Promise<SwitchState>;
  setNextBoot(mac: string, device: SwitchBootDevice): SwitchState;
}

class Answer extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class PowerSwitch {
  private server?: Server;

  constructor(private readonly machines: SwitchedMachines) {}

  /** Listens on 127.0.0.1:port (0: a free port) and resolves with the switch's URL. */
  async start(port: number): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`the lab power switch cannot listen on 127.0.0.1:${port}: ${err.message}`)));
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    return this.url!;
  }

  get url(): string | undefined {
    const address = this.server?.address();
    return address && typeof address === 'object' ? `http://127.0.0.1:${address.port}` : undefined;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const body = await this.route(req);
      send(res, 200, body);
    } catch (err) {
      send(res, err instanceof Answer ? err.status : 500, { error: (err as Error).message });
    }
  }

  private async route(req: IncomingMessage): Promise<unknown> {
    const path = new URL(req.url ?? '/', 'http://switch').pathname;
    if (path === '/machines' || path === '/machines/') {
      if (req.method !== 'GET') throw new Answer(405, `${req.method} ${path}: only GET`);
      return { machines: this.machines.list() };
    }
    const match = /^\/machines\/([^/]+)\/(power|boot)$/.exec(path);
    if (!match) throw new Answer(404, `no such path on the lab power switch: ${path} (try /machines/<mac>/power)`);
    const asked = decodeURIComponent(match[1]!);
    const mac = parseMac(asked) ?? asked;
    const known = this.machines.get(mac);
    if (!known) throw new Answer(404, `no machine ${mac} is plugged into this lab power switch`);
    if (match[2] === 'power') {
      if (req.method === 'GET') return known;
      if (req.method !== 'POST') throw new Answer(405, `${req.method} ${path}: GET or POST`);
      const { action, soft } = await readJson(req);
      if (action !== 'on' && action !== 'off' && action !== 'cycle') throw new Answer(400, `action must be on, off or cycle (got ${JSON.stringify(action)})`);
      return this.machines.power(mac, action, soft === true);
    }
    if (req.method === 'GET') return known;
    if (req.method !== 'PUT') throw new Answer(405, `${req.method} ${path}: GET or PUT`);
    const { device } = await readJson(req);
    if (device !== 'network' && device !== 'disk') throw new Answer(400, `device must be network or disk (got ${JSON.stringify(device)})`);
    return this.machines.setNextBoot(mac, device);
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Answer(400, 'the request body is larger than 64 KiB');
    chunks.push(chunk);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new Answer(400, `the body must be a JSON object (${(err as Error).message})`);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

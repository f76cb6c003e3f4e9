/**
 * A fake NetBox for tests: the few REST endpoints the stub calls, with NetBox's answer
 * shapes (paginated lists, `{detail}` errors, field-keyed 400s), its auth (`Authorization:
 * Token …` or 403) and its rules (no network/broadcast address from `available-ips`,
 * duplicates refused as with ENFORCE_GLOBAL_UNIQUE). State lives in memory; it listens
 * on 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeIp {
  id: number;
  address: string;
  status: string;
  description: string;
  dns_name: string;
  vrf: number | null;
}

export interface FakeNetbox {
  url: string;
  token: string;
  /** Every request as `METHOD /path?query`, in order. */
  calls: string[];
  ips: Map<number, FakeIp>;
  /** Adds a prefix and returns its id. */
  addPrefix(prefix: string): number;
  /** The next `count` requests (of `method`, when given) are answered with this status and body instead. */
  failNext(status: number, body: unknown, count?: number, method?: string): void;
  close(): Promise<void>;
}

const statuses = ['active', 'reserved', 'deprecated', 'dhcp', 'slaac'];

const num = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const str = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
const host = (address: string) => address.split('/')[0];
function block(cidr: string) {
  const [a, len] = cidr.split('/');
  const size = 2 ** (32 - Number(len));
  const first = num(a) - (num(a) % size);
  return { first, last: first + size - 1, len: Number(len) };
}

export async function startFakeNetbox(token = 'nb-test-token-0123456789'): Promise<FakeNetbox> {
  const prefixes = new Map<number, { id: number; prefix: string; vrf: null }>();
  const ips = new Map<number, FakeIp>();
  const calls: string[] = [];
  const failures: { status: number; body: unknown; method?: string }[] = [];
  let nextId = 1;

  const ipView = (ip: FakeIp) => ({
    id: ip.id,
    url: `${fake.url}/api/ipam/ip-addresses/${ip.id}/`,
    display: ip.address,
    family: { value: 4, label: 'IPv4' },
    address: ip.address,
    vrf: ip.vrf === null ? null : { id: ip.vrf },
    status: { value: ip.status, label: ip.status[0].toUpperCase() + ip.status.slice(1) },
    dns_name: ip.dns_name,
    description: ip.description,
    tags: [],
    custom_fields: {},
  });

  function validate(body: Record<string, unknown>): Record<string, string[]> | undefined {
    const errors: Record<string, string[]> = {};
    if (body.status !== undefined && !statuses.includes(String(body.status))) errors.status = [`"${String(body.status)}" is not a valid choice.`];
    if (body.description !== undefined && (typeof body.description !== 'string' || body.description.length > 200))
      errors.description = ['Ensure this field has no more than 200 characters.'];
    if (body.dns_name !== undefined && !/^([0-9A-Za-z_-]+|\*)(\.[0-9A-Za-z_-]+)*\.?$/.test(String(body.dns_name)))
      errors.dns_name = ['Only alphanumeric characters, asterisks, hyphens, periods, and underscores are allowed in DNS names'];
    return Object.keys(errors).length ? errors : undefined;
  }

  function create(address: string, body: Record<string, unknown>, vrf: number | null): FakeIp {
    const ip: FakeIp = {
      id: nextId++,
      address,
      status: String(body.status ?? 'active'),
      description: String(body.description ?? ''),
      dns_name: String(body.dns_name ?? ''),
      vrf,
    };
    ips.set(ip.id, ip);
    return ip;
  }

  function handle(method: string, url: URL, body: any): { status: number; body?: unknown } {
    const path = url.pathname;
    let m: RegExpMatchArray | null;
    if ((m = path.match(/^\/api\/ipam\/prefixes\/(\d+)\/$/)) && method === 'GET') {
      const prefix = prefixes.get(Number(m[1]));
      return prefix
        ? { status: 200, body: { ...prefix, family: { value: 4, label: 'IPv4' } } }
        : { status: 404, body: { detail: 'No Prefix matches the given query.' } };
    }
    if ((m = path.match(/^\/api\/ipam\/prefixes\/(\d+)\/available-ips\/$/))) {
      const prefix = prefixes.get(Number(m[1]));
      if (!prefix) return { status: 404, body: { detail: 'No Prefix matches the given query.' } };
      const b = block(prefix.prefix);
      const used = new Set([...ips.values()].map((ip) => num(host(ip.address))));
      const free: number[] = [];
      const [lo, hi] = b.len >= 31 ? [b.first, b.last] : [b.first + 1, b.last - 1];
      for (let n = lo; n <= hi && free.length < 1000; n++) if (!used.has(n)) free.push(n);
      if (method === 'GET') return { status: 200, body: free.map((n) => ({ family: 4, address: `${str(n)}/${b.len}`, vrf: null })) };
      if (method !== 'POST') return { status: 405, body: { detail: `Method "${method}" not allowed.` } };
      if (Array.isArray(body) || typeof body !== 'object' || body === null)
        return { status: 400, body: { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] } };
      const errors = validate(body);
      if (errors) return { status: 400, body: errors };
      if (free.length === 0)
        return {
          status: 409,
          body: { detail: `An insufficient number of IP addresses are available within prefix ${prefix.prefix} (1 requested, 0 available)` },
        };
      return { status: 201, body: ipView(create(`${str(free[0])}/${b.len}`, body, null)) };
    }
    if (path === '/api/ipam/ip-addresses/') {
      if (method === 'GET') {
        let found = [...ips.values()];
        for (const a of url.searchParams.getAll('address')) found = found.filter((ip) => host(ip.address) === host(a));
        for (const p of url.searchParams.getAll('parent')) {
          const b = block(p);
          found = found.filter((ip) => num(host(ip.address)) >= b.first && num(host(ip.address)) <= b.last);
        }
        found.sort((x, y) => num(host(x.address)) - num(host(y.address)));
        const limit = Number(url.searchParams.get('limit') ?? 50);
        const offset = Number(url.searchParams.get('offset') ?? 0);
        const page = found.slice(offset, offset + limit);
        const next =
          offset + limit < found.length
            ? `${fake.url}${path}?${new URLSearchParams({ ...Object.fromEntries(url.searchParams), offset: String(offset + limit) })}`
            : null;
        return { status: 200, body: { count: found.length, next, previous: null, results: page.map(ipView) } };
      }
      if (method === 'POST') {
        if (typeof body !== 'object' || body === null || Array.isArray(body)) return { status: 400, body: { non_field_errors: ['Invalid data.'] } };
        if (!body.address) return { status: 400, body: { address: ['This field is required.'] } };
        if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(String(body.address))) return { status: 400, body: { address: [`Invalid IP address format: ${body.address}`] } };
        const errors = validate(body);
        if (errors) return { status: 400, body: errors };
        if ([...ips.values()].some((ip) => host(ip.address) === host(body.address)))
          return { status: 400, body: { address: [`Duplicate IP address found in global table: ${body.address}`] } };
        return { status: 201, body: ipView(create(String(body.address), body, typeof body.vrf === 'number' ? body.vrf : null)) };
      }
      return { status: 405, body: { detail: `Method "${method}" not allowed.` } };
    }
    if ((m = path.match(/^\/api\/ipam\/ip-addresses\/(\d+)\/$/))) {
      const ip = ips.get(Number(m[1]));
      if (!ip) return { status: 404, body: { detail: 'No IPAddress matches the given query.' } };
      if (method === 'GET') return { status: 200, body: ipView(ip) };
      if (method === 'DELETE') {
        ips.delete(ip.id);
        return { status: 204 };
      }
      if (method === 'PATCH') {
        const errors = validate(body ?? {});
        if (errors) return { status: 400, body: errors };
        for (const k of ['status', 'description', 'dns_name'] as const) if (body[k] !== undefined) (ip as any)[k] = String(body[k]);
        return { status: 200, body: ipView(ip) };
      }
      return { status: 405, body: { detail: `Method "${method}" not allowed.` } };
    }
    return { status: 404, body: { detail: 'Not found.' } };
  }

  async function serve(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://netbox');
    calls.push(`${req.method} ${url.pathname}${url.search}`);
    const send = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const auth = req.headers.authorization;
    if (!auth) return send(403, { detail: 'Authentication credentials were not provided.' });
    if (auth !== `Token ${token}`) return send(403, { detail: 'Invalid token' });
    if (!String(req.headers.accept ?? '').includes('application/json')) return send(406, { detail: 'Could not satisfy the request Accept header.' });
    const due = failures.findIndex((f) => f.method === undefined || f.method === req.method);
    if (due >= 0) {
      const [failure] = failures.splice(due, 1);
      return send(failure.status, failure.body);
    }
    let body: unknown;
    if (chunks.length) {
      if (!String(req.headers['content-type'] ?? '').startsWith('application/json'))
        return send(415, { detail: `Unsupported media type "${req.headers['content-type']}" in request.` });
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(400, { detail: 'JSON parse error' });
      }
    }
    const answer = handle(req.method ?? 'GET', url, body);
    send(answer.status, answer.body);
  }

  const server: Server = createServer((req, res) => {
    serve(req, res).catch((err) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const fake: FakeNetbox = {
    url: `http://127.0.0.1:${port}`,
    token,
    calls,
    ips,
    addPrefix(prefix) {
      const id = nextId++;
      prefixes.set(id, { id, prefix, vrf: null });
      return id;
    },
    failNext(status, body, count = 1, method) {
      for (let i = 0; i < count; i++) failures.push({ status, body, method });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return fake;
}

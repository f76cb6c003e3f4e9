/**
 * A fake PowerDNS Authoritative HTTP API for tests: `GET` and `PATCH
 * /api/v1/servers/{server}/zones/{zone}` with PowerDNS's shapes (RRsets with records and
 * comments, `{error}` bodies, 204 on a good PATCH), its auth (`X-API-Key` or 401) and
 * its rules (canonical names, names inside the zone, A content an IPv4 address, PTR
 * content canonical, no duplicate RRsets in one PATCH). Listens on 127.0.0.1 only.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIPv4 } from 'node:net';

export interface FakeRrset {
  name: string;
  type: string;
  ttl: number;
  records: { content: string; disabled: boolean }[];
  comments: { content: string; account: string; modified_at: number }[];
}

export interface FakePowerdns {
  url: string;
  apiKey: string;
  /** Every request as `METHOD /path`, with its body. */
  requests: { method: string; path: string; body: any }[];
  /** Zones by canonical name, RRsets by `name type`. */
  zones: Map<string, Map<string, FakeRrset>>;
  close(): Promise<void>;
}

export async function startFakePowerdns(options: { zones: string[]; apiKey?: string; serverId?: string }): Promise<FakePowerdns> {
  const apiKey = options.apiKey ?? 'pdns-test-key-0123456789';
  const serverId = options.serverId ?? 'localhost';
  const zones = new Map<string, Map<string, FakeRrset>>();
  for (const z of options.zones) {
    const name = `${z}.`;
    zones.set(
      name,
      new Map([
        [
          `${name} SOA`,
          { name, type: 'SOA', ttl: 3600, records: [{ content: `ns1.${name} hostmaster.${name} 1 10800 3600 604800 3600`, disabled: false }], comments: [] },
        ],
        [`${name} NS`, { name, type: 'NS', ttl: 3600, records: [{ content: `ns1.${name}`, disabled: false }], comments: [] }],
      ]),
    );
  }
  const requests: FakePowerdns['requests'] = [];

  function patch(zoneName: string, zone: Map<string, FakeRrset>, body: any): { status: number; body?: unknown } {
    if (typeof body !== 'object' || body === null || !Array.isArray(body.rrsets)) return { status: 400, body: { error: 'No rrsets given in update request' } };
    const seen = new Set<string>();
    const changes: (() => void)[] = [];
    for (const rr of body.rrsets) {
      const name = String(rr.name ?? '');
      const type = String(rr.type ?? '');
      if (!name.endsWith('.')) return { status: 422, body: { error: `Name is not canonical: '${name}'` } };
      if (name.toLowerCase() !== zoneName && !name.toLowerCase().endsWith(`.${zoneName}`))
        return { status: 422, body: { error: `RRset ${name} IN ${type}: Name is out of zone` } };
      const key = `${name.toLowerCase()} ${type}`;
      if (seen.has(key)) return { status: 422, body: { error: `Duplicate RRset ${name} IN ${type}` } };
      seen.add(key);
      const changetype = String(rr.changetype ?? '').toUpperCase();
      if (changetype === 'DELETE') {
        changes.push(() => zone.delete(key));
      } else if (changetype === 'REPLACE') {
        if (!Number.isInteger(rr.ttl)) return { status: 422, body: { error: `Key 'ttl' not present or not an Integer` } };
        if (!Array.isArray(rr.records)) return { status: 422, body: { error: `Key 'records' not present or not an Array` } };
        for (const r of rr.records) {
          if (typeof r.content !== 'string') return { status: 422, body: { error: `Key 'content' not present or not a String` } };
          if (typeof r.disabled !== 'boolean') return { status: 422, body: { error: `Key 'disabled' not present or not a Boolean` } };
          if (type === 'A' && !isIPv4(r.content))
            return {
              status: 422,
              body: { error: `Record ${name}/A '${r.content}': Parsing record content (try 'pdnsutil check-zone'): unable to parse IP address` },
            };
          if (type === 'PTR' && !r.content.endsWith('.'))
            return { status: 422, body: { error: `Record ${name}/PTR '${r.content}': Not in expected format (parsed as '${r.content}.')` } };
        }
        const comments = Array.isArray(rr.comments)
          ? rr.comments.map((c: any) => ({ content: String(c.content), account: String(c.account ?? ''), modified_at: 1 }))
          : (zone.get(key)?.comments ?? []);
        const next = {
          name: name.toLowerCase(),
          type,
          ttl: rr.ttl,
          records: rr.records.map((r: any) => ({ content: r.content, disabled: r.disabled })),
          comments,
        };
        changes.push(() => (next.records.length ? zone.set(key, next) : zone.delete(key)));
      } else {
        return { status: 422, body: { error: `Changetype not understood` } };
      }
    }
    changes.forEach((apply) => apply());
    return { status: 204 };
  }

  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://pdns').pathname);
    let body: any;
    if (chunks.length) {
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(400, { error: 'JSON parse error' });
      }
    }
    requests.push({ method: req.method ?? '', path, body });
    if (req.headers['x-api-key'] !== apiKey) return send(401, { error: 'Unauthorized' });
    const m = path.match(/^\/api\/v1\/servers\/([^/]+)\/zones\/([^/]+)$/);
    if (!m) return send(404, { error: 'Not Found' });
    if (m[1] !== serverId) return send(404, { error: 'Not Found' });
    const zoneName = m[2].toLowerCase();
    const zone = zones.get(zoneName);
    if (!zone) return send(404, { error: `Could not find domain '${m[2]}'` });
    if (req.method === 'GET') {
      return send(200, { id: zoneName, name: zoneName, kind: 'Native', serial: 1, rrsets: [...zone.values()] });
    }
    if (req.method === 'PATCH') {
      if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) return send(400, { error: 'Request body is not JSON' });
      const answer = patch(zoneName, zone, body);
      return send(answer.status, answer.body);
    }
    send(405, { error: 'Method Not Allowed' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    requests,
    zones,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * How the driver proves who it is to a BMC. By default a Redfish session: POST
 * UserName/Password to the service's Sessions collection once, then send its
 * X-Auth-Token, kept per BMC and user and created again when the BMC answers 401 (the
 * session expired). A service without a SessionService gets HTTP basic auth instead;
 * `bmc.options.auth: 'token'` means bmc.password already is an X-Auth-Token.
 */
import { createHash } from 'node:crypto';
import type { BmcLink, RedfishReply, RedfishRequest } from './bmc-link.ts';

type Credential = { kind: 'session'; token: string } | { kind: 'basic' };

/** Session service statuses that mean "no sessions here": fall back to basic auth. */
const noSessionService = new Set([404, 405, 501]);

export class RedfishSessions {
  /**
   * By BMC, user and a hash of the password (a changed password never reuses an old
   * session). A promise, so that calls made together share one login: BMCs have few session slots.
   */
  private readonly credentials = new Map<string, Promise<Credential>>();

  /** Sends an authenticated request; fails with the BMC's refusal unless it answers 2xx. */
  async request(link: BmcLink, what: string, req: RedfishRequest): Promise<RedfishReply> {
    const { bmc } = link;
    if (bmc.options?.auth === 'token') {
      if (!bmc.password) throw link.error('auth', what, 'bmc.options.auth is token but bmc.password holds no X-Auth-Token');
      return ok(link, what, await link.send(what, { ...req, headers: { ...req.headers, 'X-Auth-Token': bmc.password } }));
    }
    if (!bmc.username || !bmc.password) throw link.error('auth', what, 'the BMC needs bmc.username and bmc.password');
    const key = `${bmc.address}\0${bmc.insecure === true}\0${bmc.username}\0${createHash('sha256').update(bmc.password).digest('hex')}`;
    const cached = this.credentials.get(key);
    let login = cached ?? this.logIn(link, key);
    let credential = await login;
    let reply = await link.send(what, withCredential(link, req, credential));
    if (reply.status === 401 && credential.kind === 'session' && cached) {
      // The BMC ended the session (timeout, reboot, too many sessions): log in again once,
      // unless a call made together already did.
      const current = this.credentials.get(key);
      login = current && current !== login ? current : this.logIn(link, key);
      credential = await login;
      reply = await link.send(what, withCredential(link, req, credential));
    }
    if ((reply.status === 401 || reply.status === 403) && this.credentials.get(key) === login) this.credentials.delete(key);
    return ok(link, what, reply);
  }

  /** Logs in and keeps the credential under `key`; a failed login is forgotten. */
  private logIn(link: BmcLink, key: string): Promise<Credential> {
    const login = this.createCredential(link);
    this.credentials.set(key, login);
    login.catch(() => {
      if (this.credentials.get(key) === login) this.credentials.delete(key);
    });
    return login;
  }

  private async createCredential(link: BmcLink): Promise<Credential> {
    const root = await link.send('read the service root (GET /redfish/v1/)', { method: 'GET', path: '/redfish/v1/' });
    const body = root.body as { SessionService?: unknown; Links?: { Sessions?: { '@odata.id'?: unknown } } } | undefined;
    const advertised = body?.Links?.Sessions?.['@odata.id'];
    // A readable service root without a SessionService says so: basic auth it is.
    if (isOk(root) && !advertised && !body?.SessionService) return { kind: 'basic' };
    const path = typeof advertised === 'string' ? advertised : '/redfish/v1/SessionService/Sessions';
    const what = `log in as ${link.bmc.username} (POST ${path})`;
    const reply = await link.send(what, { method: 'POST', path, body: { UserName: link.bmc.username, Password: link.bmc.password } });
    if (noSessionService.has(reply.status)) return { kind: 'basic' };
    if (!isOk(reply)) throw link.refusal(what, reply);
    const token = reply.headers['x-auth-token'];
    if (typeof token !== 'string' || !token) throw link.error('protocol', what, `${reply.statusLine} without an X-Auth-Token header`);
    return { kind: 'session', token };
  }
}

function withCredential(link: BmcLink, req: RedfishRequest, credential: Credential): RedfishRequest {
  const auth: Record<string, string> =
    credential.kind === 'session'
      ? { 'X-Auth-Token': credential.token }
      : { Authorization: `Basic ${Buffer.from(`${link.bmc.username}:${link.bmc.password}`).toString('base64')}` };
  return { ...req, headers: { ...req.headers, ...auth } };
}

function isOk(reply: RedfishReply): boolean {
  return reply.status >= 200 && reply.status < 300;
}

function ok(link: BmcLink, what: string, reply: RedfishReply): RedfishReply {
  if (!isOk(reply)) throw link.refusal(what, reply);
  return reply;
}

/**
 * Plays a site's agent for power work over the HTTP transport's own endpoints, as a
 * real agent speaks: registers with a join token, takes work items (acknowledging
 * them) and posts reports. For tests of the control plane's power routes and CLI.
 */
import type { AgentReport } from '@sprout/kernel';
import { until } from './until.ts';

export type ApiRequest = (options: { method?: string; url: string; token?: string | null; body?: unknown }) => Promise<{ status: number; body: any }>;

export interface FakeAgent {
  agentId: string;
  siteId: string;
  /** The next work item of `kind` handed to this site (bounded wait). */
  work(kind: string): Promise<any>;
  report(kind: string, workItemId: string | null, payload: Record<string, unknown>): Promise<void>;
  /** A heartbeat as the agent sends it, with `extra` fields (e.g. its images). */
  heartbeat(extra?: Record<string, unknown>): Promise<{ status: number; body: any }>;
}

/** `beforePoll`: e.g. draining the outbox of a kernel that runs no timers. */
export async function fakeAgent(request: ApiRequest, joinToken: string, beforePoll: () => Promise<unknown> = async () => undefined): Promise<FakeAgent> {
  const res = await request({
    method: 'POST',
    url: '/v1/agents/register',
    token: null,
    body: { joinToken, hostname: 'agent', version: '0.1.0', capabilities: [] },
  });
  if (res.status !== 201) throw new Error(`register: ${JSON.stringify(res.body)}`);
  const { agentId, siteId, credential } = res.body;
  let sequence = 0;
  const seen: any[] = [];
  return {
    agentId,
    siteId,
    async work(kind) {
      let found: any;
      await until(
        `a ${kind} work item`,
        async () => {
          await beforePoll();
          const polled = await request({ url: `/v1/agents/${agentId}/work?wait=0`, token: credential });
          for (const { item } of polled.body.items ?? []) {
            seen.push(item);
            await request({ method: 'POST', url: `/v1/agents/${agentId}/work/settle`, token: credential, body: { ids: [item.id], outcome: 'ack' } });
          }
          found = seen.find((item) => item.kind === kind);
          if (found) seen.splice(seen.indexOf(found), 1);
          return Boolean(found);
        },
        10_000,
      );
      return found;
    },
    heartbeat: (extra = {}) =>
      request({
        method: 'POST',
        url: `/v1/agents/${agentId}/heartbeat`,
        token: credential,
        body: { version: '0.1.0', capabilities: [], services: {}, ...extra },
      }),
    async report(kind, workItemId, payload) {
      const report: AgentReport = { agentId, siteId, sequence: ++sequence, kind, workItemId, at: new Date().toISOString(), payload };
      const posted = await request({ method: 'POST', url: `/v1/agents/${agentId}/reports`, token: credential, body: { reports: [report] } });
      if (posted.status !== 200) throw new Error(`report: ${JSON.stringify(posted.body)}`);
    },
  };
}

/** An ApiRequest against a running server at `base`, with `token` by default. */
export function httpRequest(base: string, defaultToken: string): ApiRequest {
  return async ({ method = 'GET', url, token, body }) => {
    const bearer = token === undefined ? defaultToken : token;
    const res = await fetch(`${base}${url}`, {
      method,
      headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed };
  };
}

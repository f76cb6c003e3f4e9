/**
 * No secret Sprout issues ever shows up where it should not. The lab demo runs in this
 * process (control plane, agent, simulated machine commissioned and deployed) while the
 * test collects every secret issued: the admin token, join tokens, agent credentials,
 * API tokens it creates, and each machine's per-boot token as the agent hands it out.
 * Then lab.log, everything printed, every audit record and every error body are searched
 * for each of them; the database holds only hashes.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Lab } from '../../cli/src/lab/lab.ts';
import { DemoStory, StoryTeller, demoMachines } from '../../cli/src/lab/demo-story.ts';

const secretFields = new Set(['token', 'secret', 'credential', 'joinToken']);

function collectSecrets(value: unknown, into: Set<string>): void {
  if (!value || typeof value !== 'object') return;
  for (const [key, item] of Object.entries(value)) {
    if (secretFields.has(key) && typeof item === 'string' && item.length >= 16) into.add(item);
    else collectSecrets(item, into);
  }
}

/** Every text file under `dir` except the few whose job is to hold a secret (mode 0600). */
function textFiles(dir: string, skip: Set<string>): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const info = statSync(path);
    if (info.isDirectory()) {
      if (!['artifacts', 'db', 'pgdata'].includes(name)) out.push(...textFiles(path, skip));
    } else if (!skip.has(name) && info.size < 20 * 1024 * 1024) out.push({ path, text: readFileSync(path, 'latin1') });
  }
  return out;
}

test('a full lab run leaks none of the secrets it issued: not in lab.log, the output, audit records or error bodies; the database keeps hashes', async (t) => {
  t.timeout(170_000);
  const dir = mkdtempSync(join(tmpdir(), 'sprout-secrets-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const secrets = new Set<string>();
  const errorBodies: string[] = [];
  const realFetch = globalThis.fetch;
  // Every answer of the API, to the CLI client and to the agent alike: secrets in 2xx bodies, and every error body.
  globalThis.fetch = (async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
    if (typeof init?.body === 'string') {
      try {
        collectSecrets(JSON.parse(init.body), secrets);
      } catch {
        /* not JSON */
      }
    }
    const response = await realFetch(input, init);
    const text = await response
      .clone()
      .text()
      .catch(() => '');
    if (response.status >= 400) errorBodies.push(text);
    try {
      collectSecrets(JSON.parse(text), secrets);
    } catch {
      /* not JSON */
    }
    return response;
  }) as typeof fetch;
  t.teardown(() => {
    globalThis.fetch = realFetch;
  });

  const printed: string[] = [];
  const teller = new StoryTeller((line) => printed.push(line));
  // What the simulated machine itself shows (its console: the kernel command line carries its own boot token).
  const consoleLines: string[] = [];
  const waitsFile = join(dir, 'agent', 'machine-waits.json');
  const bootTokens = new Set<string>();
  // The agent keeps each machine's per-boot token in machine-waits.json for as long as the step runs.
  const watcher = setInterval(() => {
    try {
      for (const w of JSON.parse(readFileSync(waitsFile, 'utf8')) as { token: string }[]) bootTokens.add(w.token);
    } catch {
      /* not there yet, or being replaced */
    }
  }, 25);
  t.teardown(() => clearInterval(watcher));

  const lab = await Lab.start({
    dir,
    apiPort: 0,
    simulator: true,
    onProgress: (w) => teller.say(w),
    onSimulatorEvent: (e) => consoleLines.push(`  ${e.mac} ${e.kind} ${e.detail}`),
  });
  let ok = false;
  const audit: unknown[] = [];
  let db: any;
  try {
    ok = await new DemoStory(lab, teller).run(demoMachines(1));
    // More secrets, and errors that could echo them.
    const created = await lab.api.post<{ secret: string }>('v1/tokens', { name: 'ci-secrets', role: 'operator' });
    const joinToken = await lab.api.post<{ token: string }>('v1/sites/lab/join-tokens', {});
    const url = lab.info.url;
    const registered = await (
      await fetch(new URL('v1/agents/register', `${url.replace(/\/$/, '')}/`), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ joinToken: joinToken.token, hostname: 'second', version: '1.0.0', capabilities: [] }),
      })
    ).json();
    t.truthy((registered as { credential?: string }).credential);
    await lab.api.delete('v1/tokens/ci-secrets');
    const call = (path: string, token: string, body?: unknown) =>
      fetch(new URL(path, `${url.replace(/\/$/, '')}/`), {
        method: body ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
      });
    await call('v1/whoami', created.secret); // revoked: 401
    await call('v1/whoami', `${created.secret}x`);
    await call('v1/tokens', created.secret, { name: 'again', role: 'admin' });
    await call('v1/agents/register', 'x', { joinToken: joinToken.token, hostname: 'third', version: '1', capabilities: [] }); // used: 401
    await call('v1/agents/register', 'x', { joinToken: `${joinToken.token}`.repeat(2).slice(0, 256), hostname: 'fourth', version: '1', capabilities: [] });
    await call('v1/tokens', lab.info.token, { name: 'ci-secrets-2', role: 'viewer', secret: 'sprout_chosen_secret_value' });
    for (let cursor: string | null = '', pages = 0; cursor !== null && pages < 50; pages++) {
      const page: { items: unknown[]; nextCursor: string | null } = await lab.api.get(`v1/audit?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
      audit.push(...page.items);
      cursor = page.nextCursor;
    }
    db = (lab as any).kernel.store.db;
    const tokenRows = await db('api_tokens').select('*');
    const agentRows = await db('agents').select('*');
    const joinRows = await db('join_tokens').select('*');
    const stored = JSON.stringify([tokenRows, agentRows, joinRows]);
    for (const secret of secrets) t.false(stored.includes(secret), `the database holds a secret in clear: ${secret.slice(0, 8)}…`);
    const hashes = new Set([
      ...tokenRows.map((r: any) => r.secret_hash),
      ...agentRows.map((r: any) => r.credential_hash),
      ...joinRows.map((r: any) => r.secret_hash),
    ]);
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    t.true(hashes.has(sha(created.secret)), 'the created token is stored as its sha256');
    t.true(hashes.has(sha(joinToken.token)), 'the join token is stored as its sha256');
    t.true(hashes.has(sha((registered as { credential: string }).credential)), 'the agent credential is stored as its sha256');
  } finally {
    clearInterval(watcher);
    await lab.stop();
  }
  t.true(ok, printed.join('\n'));

  const admin = readFileSync(join(dir, 'control-plane', 'admin-token'), 'utf8').trim();
  secrets.add(admin);
  const agentIdentity = JSON.parse(readFileSync(join(dir, 'agent', 'agent.json'), 'utf8'));
  collectSecrets(agentIdentity, secrets);
  for (const token of bootTokens) secrets.add(token);
  t.true(bootTokens.size >= 2, `boot tokens seen: ${bootTokens.size} (commission and install)`);
  t.true(secrets.size >= 7, `secrets collected: ${secrets.size}`);
  t.true(existsSync(join(dir, 'lab.log')));

  // Files whose purpose is to hold a secret, readable only by their owner.
  for (const file of [join(dir, 'control-plane', 'admin-token'), join(dir, 'agent', 'agent.json')]) t.is(statSync(file).mode & 0o077, 0, `${file} is private`);
  const places = [
    ...textFiles(dir, new Set(['admin-token', 'agent.json', 'machine-waits.json', 'lab.json'])),
    { path: 'printed output', text: printed.join('\n') },
    { path: 'audit records', text: JSON.stringify(audit) },
    { path: 'error bodies', text: errorBodies.join('\n') },
  ];
  t.true(
    places.some((p) => p.path.endsWith('lab.log') && p.text.length > 1000),
    'lab.log has the run in it',
  );
  t.true(errorBodies.length >= 4, `error bodies collected: ${errorBodies.length}`);
  const leaks: string[] = [];
  for (const secret of secrets) for (const place of places) if (place.text.includes(secret)) leaks.push(`${secret.slice(0, 10)}… in ${place.path}`);
  // What the simulator prints of a machine (the demo shows it) masks even the machine's own boot token.
  for (const secret of secrets) if (consoleLines.join('\n').includes(secret)) leaks.push(`${secret.slice(0, 10)}… on a machine console`);
  t.true(consoleLines.length > 10, 'the simulated machine did its work');
  t.deepEqual(leaks, []);
  t.log(
    `${secrets.size} secrets (${bootTokens.size} boot tokens) searched for in ${places.length} places (${audit.length} audit records, ${errorBodies.length} error bodies): none found`,
  );
});

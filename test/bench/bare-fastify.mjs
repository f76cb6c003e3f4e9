/**
 * The api suite's baseline: a bare fastify 5 route doing one SELECT by primary key on
 * the control plane's own machines table (same PostgreSQL, same schema, a pool of 10
 * like the kernel's), no authentication, no schemas, no logging. Plain JavaScript run by
 * plain node, like the Sprout control plane it is compared with.
 *
 *   node test/bench/bare-fastify.mjs '{"databaseUrl":"…","schema":"…"}'
 *
 * Prints `ready {"url":…}`; stops on SIGTERM.
 */
import { createHash } from 'node:crypto';
import Fastify from 'fastify';
import pg from 'pg';

/** @type {{ databaseUrl: string; schema: string }} */
const spec = JSON.parse(process.argv[2]);
const pool = new pg.Pool({ connectionString: spec.databaseUrl, max: 10, options: `-c search_path=${spec.schema}` });
const app = Fastify({ logger: false });
app.get('/machines/:id', async (request, reply) => {
  const { rows } = await pool.query('select * from machines where id = $1', [request.params.id]);
  if (rows.length === 0) return reply.status(404).send({ error: 'not found' });
  return rows[0];
});
// A diagnosis beside the baseline: the SQL a Sprout GET issued before it was optimised
// (token lookup, its last_used_at update left running, the machine, its interfaces, site
// and test results) without the framework around it — what that pattern costs here.
const sproutQueries = (/** @type {boolean} */ updateLastUse) => async (request, reply) => {
  const secret = String(request.headers.authorization ?? '').replace(/^Bearer /, '');
  const hash = createHash('sha256').update(secret).digest('hex');
  const token = (await pool.query('select * from api_tokens where secret_hash = $1 limit 1', [hash])).rows[0];
  if (!token) return reply.status(401).send({ error: 'unauthenticated' });
  if (updateLastUse) void pool.query('update api_tokens set last_used_at = now() where id = $1', [token.id]).catch(() => undefined);
  const machine = (await pool.query('select * from machines where id = $1 limit 1', [request.params.id])).rows[0];
  if (!machine) return reply.status(404).send({ error: 'not found' });
  const [nics, sites, tests] = [
    await pool.query('select * from interfaces where machine_id = any($1) order by name', [[machine.id]]),
    await pool.query('select id, name from sites where id = any($1)', [[machine.site_id]]),
    await pool.query('select * from hardware_test_results where machine_id = any($1) order by id desc', [[machine.id]]),
  ];
  return { ...machine, interfaces: nics.rows, site: sites.rows[0], hardwareTests: tests.rows };
};
app.get('/sprout-queries/machines/:id', sproutQueries(true));
// The same without the last_used_at update: what that one write per request costs.
app.get('/sprout-queries-no-update/machines/:id', sproutQueries(false));
const url = await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`ready ${JSON.stringify({ url })}`);
process.on('SIGTERM', async () => {
  await app.close();
  await pool.end();
  process.exit(0);
});

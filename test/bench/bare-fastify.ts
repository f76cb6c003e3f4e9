/**
 * The api suite's baseline: a bare fastify 5 route doing one SELECT by primary key on
 * the control plane's own machines table (same PostgreSQL, same schema, a pool of 10
 * like the kernel's), no authentication, no schemas, no logging.
 *
 *   node --import tsx test/bench/bare-fastify.ts '{"databaseUrl":"…","schema":"…"}'
 */
import Fastify from 'fastify';
import pg from 'pg';

const spec = JSON.parse(process.argv[2]) as { databaseUrl: string; schema: string };
const pool = new pg.Pool({ connectionString: spec.databaseUrl, max: 10, options: `-c search_path=${spec.schema}` });
const app = Fastify({ logger: false });
app.get('/machines/:id', async (request, reply) => {
  const { rows } = await pool.query('select * from machines where id = $1', [(request.params as { id: string }).id]);
  if (rows.length === 0) return reply.status(404).send({ error: 'not found' });
  return rows[0];
});
const url = await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`ready ${JSON.stringify({ url })}`);
process.on('SIGTERM', async () => {
  await app.close();
  await pool.end();
  process.exit(0);
});

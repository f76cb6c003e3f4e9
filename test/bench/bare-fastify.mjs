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
// A diagnosis beside the baseline: the two reads a Sprout GET makes today (the machine
// with its site, interfaces, test results and the site's networks; then the IPAM's
// allocations of the machine in those networks), as named prepared statements like
// Sprout's, without the framework around them (no token check, schemas or log line):
// what the reads alone cost here, so the rest of the gap is the framework's.
const machineRead = `select m.*, json_build_object('id', s.id, 'name', s.name) as view_site,
  coalesce((select json_agg(json_build_object('id', i.id, 'mac', i.mac, 'name', i.name, 'pxe', i.pxe) order by i.name) from interfaces i where i.machine_id = m.id), '[]') as view_interfaces,
  coalesce((select json_agg(json_build_object('name', t.name, 'status', t.status)) from hardware_test_results t where t.machine_id = m.id), '[]') as view_tests,
  coalesce((select json_agg(json_build_object('id', n.id, 'name', n.name, 'cidr', n.cidr) order by n.name) from networks n where n.site_id = m.site_id), '[]') as view_networks
  from machines m join sites s on s.id = m.site_id where m.id = $1 limit 2`;
const allocationRead = `select id, network_id, host(address) as address, machine_id, interface_id, hostname from ip_allocations
  where network_id = any($1::uuid[]) and machine_id = $2 order by address`;
app.get('/sprout-reads/machines/:id', async (request, reply) => {
  const machine = (await pool.query({ name: 'machine', text: machineRead, values: [request.params.id] })).rows[0];
  if (!machine) return reply.status(404).send({ error: 'not found' });
  const networks = machine.view_networks;
  const addresses = (await pool.query({ name: 'allocations', text: allocationRead, values: [networks.map((n) => n.id), machine.id] })).rows;
  return { ...machine, addresses };
});
const url = await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`ready ${JSON.stringify({ url })}`);
process.on('SIGTERM', async () => {
  await app.close();
  await pool.end();
  process.exit(0);
});

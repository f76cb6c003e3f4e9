/** The plugin's agent part offers the `dns` site service the agent's service host runs. */
import test from 'ava';
import plugin from '../../src/index.ts';
import { dnsService } from '../../src/agent/dns-service.ts';

test('the agent part offers the dns service and nothing else', async (t) => {
  const part = await plugin.agent!();
  t.deepEqual(Object.keys(part.services ?? {}), ['dns']);
  t.is(part.services?.dns, dnsService);
  t.is(part.transport, undefined);
});

test('settings are checked before any socket is opened', async (t) => {
  const error = await t.throwsAsync(
    dnsService({
      dataDir: '/nonexistent/never-created',
      settings: { port: 'fifty-three' },
      desiredState: () => ({}),
      onDesiredState: () => undefined,
      report: () => undefined,
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    }),
  );
  t.regex(error!.message, /services\.dns has 1 invalid setting/);
});

/**
 * An ACK means the lease is on disk: the DHCP service, in its own process, is SIGKILLed
 * the moment a relay (this test, on loopback) receives the last ACK of a burst. Started
 * again on the same data folder, it offers each MAC its address again and none of those
 * addresses to any other MAC.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import type { SiteDesiredState } from '@sprout/kernel';
import { decodeDhcp, messageType, messageTypes as mt, opt, type DhcpMessage } from '../../../src/agent/dhcp-codec.ts';
import { clientPacket, siteState } from '@sprout/test-support/dhcp-site-fixture.ts';

const entry = fileURLToPath(new URL('./dhcp-process.ts', import.meta.url));
const preload = new URL('../../../../../kernel/src/preload.js', import.meta.url).href;

const state: SiteDesiredState = siteState({
  networks: [
    {
      id: 'net-lo',
      name: 'loopback',
      cidr: '127.0.0.0/8',
      gateway: '127.0.0.1',
      dnsServers: [],
      domain: null,
      vlan: null,
      pxe: false,
      ranges: [{ kind: 'dynamic', start: '127.78.0.10', end: '127.78.0.40' }],
    },
  ],
  reservations: [],
  bootIntents: [],
});

async function startService(t: ExecutionContext, dataDir: string, relayPort: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=sprout-source',
      '--import',
      preload,
      '--import',
      'tsx',
      entry,
      JSON.stringify({ dataDir, settings: { port: 0, address: '127.0.0.1', relayPort }, state }),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.teardown(() => void child.kill('SIGKILL'));
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the DHCP process did not start in 30 s: ${output}`)), 30_000);
    const read = (d: Buffer) => {
      output += d;
      const m = /ready (\d+)/.exec(output);
      if (m) clearTimeout(timer), resolve(Number(m[1]));
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`the DHCP process exited (${code}): ${output}`))));
  });
  return { child, port };
}

/** A relay on loopback (giaddr 127.0.0.1): answers are matched to requests by xid. */
async function relay(t: ExecutionContext) {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  t.teardown(() => socket.close());
  const waiting = new Map<number, (m: DhcpMessage) => void>();
  socket.on('message', (packet) => {
    const message = decodeDhcp(packet);
    waiting.get(message.xid)?.(message);
    waiting.delete(message.xid);
  });
  let xid = 1;
  return {
    port: socket.address().port,
    exchange(packet: (xid: number) => Buffer, serverPort: number): Promise<DhcpMessage> {
      const id = xid++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer to xid ${id} within 5 s`)), 5000);
        waiting.set(id, (m) => (clearTimeout(timer), resolve(m)));
        socket.send(packet(id), serverPort, '127.0.0.1');
      });
    },
  };
}

const ip = (a: string) => Buffer.from(a.split('.').map(Number));

test('a lease whose ACK left survives a SIGKILL of the DHCP service right after it: the same address for the same MAC, for no other MAC', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sprout-dhcp-kill-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const peer = await relay(t);
  const first = await startService(t, dataDir, peer.port);

  // Five clients at once, as a rack powering on: their REQUESTs fall into one commit window.
  const macs = [...Array(5).keys()].map((i) => `52:54:00:00:79:0${i}`);
  const offers = await Promise.all(macs.map((mac) => peer.exchange((xid) => clientPacket({ type: mt.discover, mac, xid, giaddr: '127.0.0.1' }), first.port)));
  const acks = await Promise.all(
    macs.map((mac, i) =>
      peer.exchange(
        (xid) =>
          clientPacket({
            type: mt.request,
            mac,
            xid,
            giaddr: '127.0.0.1',
            options: [
              [opt.requestedAddress, ip(offers[i]!.yiaddr)],
              [opt.serverId, ip('127.0.0.1')],
            ],
          }),
        first.port,
      ),
    ),
  );
  // The last ACK is in: the process dies before it can do anything more.
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));
  t.deepEqual(
    acks.map((a) => messageType(a)),
    macs.map(() => mt.ack),
  );
  const bound = new Map(macs.map((mac, i) => [mac, acks[i]!.yiaddr]));
  t.is(new Set(bound.values()).size, 5);

  const second = await startService(t, dataDir, peer.port);
  // Other MACs first: none of them may be offered an acknowledged address.
  for (let i = 0; i < 5; i += 1) {
    const offer = await peer.exchange((xid) => clientPacket({ type: mt.discover, mac: `52:54:00:00:7a:0${i}`, xid, giaddr: '127.0.0.1' }), second.port);
    t.is(messageType(offer), mt.offer);
    t.false([...bound.values()].includes(offer.yiaddr), `${offer.yiaddr} was acknowledged to another MAC before the kill`);
  }
  for (const [mac, address] of bound) {
    const offer = await peer.exchange((xid) => clientPacket({ type: mt.discover, mac, xid, giaddr: '127.0.0.1' }), second.port);
    t.is(offer.yiaddr, address, `${mac} is offered its address again`);
  }
  second.child.kill('SIGKILL');
});

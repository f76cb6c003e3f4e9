/**
 * Before the dns suite loads anything: the answers the agent gives from a query's raw
 * bytes (AnswerTable.respondToUdpWire) must be byte for byte the ones the parsed path
 * (respond) gives, for the suite's own queries in several spellings, with and without
 * EDNS. A mismatch fails the suite: a fast wrong answer is no figure.
 */
import type { SiteDesiredState } from '@sprout/kernel';
import { AnswerTable } from '../../plugins/dns-builtin/src/agent/answer-table.ts';
import { decodeQuery, isUnreadable } from '../../plugins/dns-builtin/src/agent/wire.ts';
import { parseDnsSettings } from '../../plugins/dns-builtin/src/agent/settings.ts';
import { zonesFor } from '../../plugins/dns-builtin/src/agent/zones.ts';

function query(name: string, type: number, id: number, rd: boolean, edns: number | null): Buffer {
  const labels = name.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l, 'latin1')]);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header[2] = rd ? 1 : 0;
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(edns === null ? 0 : 1, 10);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2);
  const opt = Buffer.alloc(11);
  opt.writeUInt16BE(41, 1);
  opt.writeUInt16BE(edns ?? 0, 3);
  return Buffer.concat([header, ...labels, Buffer.from([0]), tail, ...(edns === null ? [] : [opt])]);
}

/** Returns how many queries were compared and how many the fast path answered; throws on the first difference. */
export function checkDnsFastPath(state: SiteDesiredState, names: { name: string; type: number }[]): { compared: number; fast: number } {
  const table = new AnswerTable(zonesFor(state, parseDnsSettings({})), 1);
  let compared = 0;
  let fast = 0;
  const spellings = (n: string) => [n, n.toUpperCase(), n.replace(/[a-z]/g, (c, i) => (i % 2 ? c.toUpperCase() : c))];
  for (const { name, type } of [...names, { name: 'missing.lab.example', type: 1 }, { name: 'elsewhere.test', type: 1 }]) {
    for (const spelled of spellings(name)) {
      for (const edns of [null, 512, 1232, 4096]) {
        const raw = query(spelled, type, (compared * 7919) & 0xffff, compared % 2 === 0, edns);
        const quick = table.respondToUdpWire(raw);
        const decoded = decodeQuery(raw);
        if (isUnreadable(decoded)) throw new Error(`the query for ${spelled} type ${type} (EDNS ${edns}) does not decode: ${decoded.reason}`);
        const slow = table.respond(decoded, 'udp');
        compared += 1;
        if (!quick) continue;
        fast += 1;
        if (!slow || !quick.message.equals(slow.message) || quick.rcode !== slow.rcode || quick.truncated !== slow.truncated) {
          throw new Error(
            `the raw-bytes answer to ${spelled} type ${type} (EDNS ${edns}) differs from the parsed one:\n${quick.message.toString('hex')}\n${slow?.message.toString('hex')}`,
          );
        }
      }
    }
  }
  return { compared, fast };
}

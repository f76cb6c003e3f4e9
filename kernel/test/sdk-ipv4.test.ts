/**
 * The one IPv4 rule every package imports from the light SDK (`@sprout/kernel/sdk`):
 * strict parsing (leading zeros, out-of-range octets and stray characters refused), the
 * JSON-schema patterns agreeing with the parser, and the block maths the DHCP responder
 * relies on (mask, broadcast, containment at the top of the address space).
 */
import test from 'ava';
import { cidrContains, compareIpv4, formatIpv4, ipv4CidrPattern, ipv4Pattern, ipv4ToInt, isIpv4, maskOf, parseCidr, parseIpv4 } from '@sprout/kernel/sdk';

const refused = [
  '010.0.0.1', // a leading zero: some tools read it as octal (8.0.0.1)
  '10.0.0.01',
  '00.0.0.0',
  '256.0.0.1',
  '1.2.3.256',
  '1.2.3',
  '1.2.3.4.5',
  '1..3.4',
  '.1.2.3',
  '1.2.3.',
  '1.2.3.4 ',
  '1.2.3.4\n',
  '+1.2.3.4',
  '1.2.3.-4',
  '0x7f.0.0.1',
  '1234.0.0.1',
  '１.2.3.4', // a full-width digit
  '',
  '::ffff:1.2.3.4',
];

test('parseIpv4 accepts dotted quads and refuses leading zeros and everything else', (t) => {
  t.is(parseIpv4('0.0.0.0'), 0);
  t.is(parseIpv4('10.0.0.1'), 0x0a000001);
  t.is(parseIpv4('255.255.255.255'), 0xffffffff);
  t.is(parseIpv4('128.0.0.0'), 2 ** 31, 'never negative above 128.0.0.0');
  for (const bad of refused) {
    t.is(parseIpv4(bad), null, JSON.stringify(bad));
    t.false(isIpv4(bad), JSON.stringify(bad));
  }
  t.is(parseIpv4(undefined as unknown as string), null);
});

test('ipv4ToInt throws a TypeError naming the field; formatIpv4 round-trips every octet', (t) => {
  t.is(ipv4ToInt('198.18.0.1'), 0xc6120001);
  const err = t.throws(() => ipv4ToInt('010.0.0.1', 'giaddr'), { instanceOf: TypeError });
  t.is(err?.message, 'giaddr "010.0.0.1" is not an IPv4 address');
  for (let octet = 0; octet < 256; octet++) {
    for (const text of [`${octet}.0.0.0`, `0.${octet}.0.0`, `0.0.${octet}.0`, `0.0.0.${octet}`, `${octet}.${255 - octet}.${octet}.${255 - octet}`]) {
      t.is(formatIpv4(parseIpv4(text)!), text);
    }
  }
});

test('the JSON-schema patterns accept exactly what the parsers accept', (t) => {
  const address = new RegExp(ipv4Pattern);
  const cidr = new RegExp(ipv4CidrPattern);
  for (const good of ['0.0.0.0', '198.18.0.1', '255.255.255.255']) t.true(address.test(good), good);
  for (const bad of refused) t.is(address.test(bad), false, JSON.stringify(bad));
  for (const text of ['198.18.0.0/24', '0.0.0.0/0', '198.18.0.7/32', '198.18.0.0/33', '198.18.0.0/024', '010.18.0.0/24', '198.18.0.0', '198.18.0.0/']) {
    t.is(cidr.test(text), parseCidr(text) !== null, text);
  }
});

test('CIDR maths: mask, broadcast and containment, including /0, /31, /32 and the top of the space', (t) => {
  t.like(parseCidr('198.18.30.7/24'), { network: 0xc6121e00, prefix: 24, mask: 0xffffff00, broadcast: 0xc6121eff, hostBitsSet: true });
  t.like(parseCidr('0.0.0.0/0'), { network: 0, mask: 0, broadcast: 0xffffffff, hostBitsSet: false });
  t.like(parseCidr('198.18.0.4/31'), { network: 0xc6120004, broadcast: 0xc6120005 });
  t.like(parseCidr('198.18.0.4/32'), { network: 0xc6120004, mask: 0xffffffff, broadcast: 0xc6120004 });
  const top = parseCidr('255.255.255.0/24')!;
  t.true(cidrContains(top, parseIpv4('255.255.255.255')!));
  t.false(cidrContains(top, parseIpv4('255.255.254.255')!));
  t.is(maskOf(0), 0);
  t.is(maskOf(8), 0xff000000);
  t.is(maskOf(32), 0xffffffff);
  for (const bad of ['198.18.0.0/08', '198.18.0.0/24/1', '198.18.0.0/ 24', '198.018.0.0/24']) t.is(parseCidr(bad), null, bad);
});

test('compareIpv4 orders by address, not by text', (t) => {
  t.deepEqual(['198.18.0.10', '198.18.0.9', '10.0.0.1', '198.18.1.0'].sort(compareIpv4), ['10.0.0.1', '198.18.0.9', '198.18.0.10', '198.18.1.0']);
});

/** bmc.address for ipmi: host or host:port, checked when the BMC is recorded. */
import test from 'ava';
import { checkIpmiAddress, parseIpmiAddress } from '../src/address.ts';

test('IPv4, [IPv6] and DNS names, with or without a port, are fine', (t) => {
  for (const ok of ['10.0.0.5', '10.0.0.5:6230', '[fd00::1]', '[fd00::1]:623', 'bmc-r1-u12.example.net', 'bmc1:9001', 'localhost']) {
    t.is(checkIpmiAddress(ok), undefined, ok);
  }
  t.deepEqual(parseIpmiAddress('[fd00::1]:6230'), { host: 'fd00::1', port: 6230 });
  t.deepEqual(parseIpmiAddress('bmc1'), { host: 'bmc1', port: 623 });
});

test('anything else gets a problem saying what is wrong', (t) => {
  const cases: Array<[string, RegExp]> = [
    ['', /must be host or host:port/],
    ['fd00::1', /IPv6 address goes in brackets: \[fd00::1\]/],
    ['10.0.0.300', /"10\.0\.0\.300" is not an IPv4 address/],
    ['10.0.0.5:0', /port "0" must be a number from 1 to 65535/],
    ['10.0.0.5:70000', /port "70000"/],
    ['10.0.0.5:ipmi', /port "ipmi"/],
    ['[not-v6]:623', /"not-v6" in brackets is not an IPv6 address/],
    ['https://bmc1', /must be host or host:port/],
    ['bmc_1.example', /"bmc_1\.example" is not a host name/],
    ['-bmc', /is not a host name/],
  ];
  for (const [address, problem] of cases) t.regex(checkIpmiAddress(address) ?? 'fine', problem, address);
});

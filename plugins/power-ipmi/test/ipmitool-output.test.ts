/**
 * How the ipmi driver reads ipmitool: outputs captured from ipmitool 1.8.19 (Debian 12)
 * against OpenIPMI's ipmi_sim — answers, and each way a call fails.
 */
import test from 'ava';
import { PowerError, type PowerTarget } from '@sprout/kernel';
import { failure, invocation, ipmitoolWords, retriesFor } from '../src/ipmitool.ts';
import { parseBootDevice, parsePowerStatus } from '../src/driver.ts';

const chatter = `Loading IANA PEN Registry...
Running Get VSO Capabilities my_addr 0x20, transit 0, target 0x20
Invalid completion code received: Invalid command
Discovered IPMB address 0x0
`;

const bootParam = (data: string, selector: string) => `Boot parameter version: 1
Boot parameter 5 is valid/unlocked
Boot parameter data: ${data}
 Boot Flags :
   - Boot Flag Invalid
   - Options apply to only next boot
   - BIOS PC Compatible (legacy) boot 
   - Boot Device Selector : ${selector}
   - BIOS verbosity : System Default
`;

/** stderr of failed runs, as ipmitool -v printed them. */
const failed = {
  wrongPassword: 'Loading IANA PEN Registry...\n> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session\n',
  wrongUser: 'Loading IANA PEN Registry...\nRAKP 2 message indicates an error : unauthorized name\nError: Unable to establish IPMI v2 / RMCP+ session\n',
  noPassword:
    'Unable to read password from environment\nPassword: Loading IANA PEN Registry...\n> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session\n',
  noAnswer:
    'Loading IANA PEN Registry...\nGet Auth Capabilities error\nError issuing Get Channel Authentication Capabilities request\nError: Unable to establish IPMI v2 / RMCP+ session\n',
  noSuchHost:
    'Loading IANA PEN Registry...\nAddress lookup for no-such-host.invalid failed\nCould not open socket!\nError: Unable to establish IPMI v2 / RMCP+ session\n',
  cipherSuite17:
    'Loading IANA PEN Registry...\nError in open session response message : invalid authentication algorithm\n\nError: Unable to establish IPMI v2 / RMCP+ session\n',
  powerOnRefused: `Loading IANA PEN Registry...\nGet HPM.x Capabilities request failed, compcode = d4\nRunning Get VSO Capabilities my_addr 0x20, transit 0, target 0x20\nInvalid completion code received: Insufficient privilege level\nDiscovered IPMB address 0x0\nSet Chassis Power Control to Up/On failed: Insufficient privilege level\n`,
  powerOffFailed: `${chatter}Set Chassis Power Control to Down/Off failed: Unspecified error\n`,
};

const target = (bmc: Partial<PowerTarget['bmc']> = {}): PowerTarget => ({
  machineId: 'm1',
  hostname: 'node-1',
  macs: ['52:54:00:00:00:01'],
  bmc: { type: 'ipmi', address: '127.0.0.1:9001', username: 'admin', password: 's3cret-pw', ...bmc },
});

test('the power status answer reads as on or off', (t) => {
  t.is(parsePowerStatus('Chassis Power is on\n'), 'on');
  t.is(parsePowerStatus('Chassis Power is off\n'), 'off');
  t.is(parsePowerStatus('Chassis Power Control: Up/On\n'), undefined);
});

test('boot parameter 5 reads as the device the machine boots next', (t) => {
  t.is(parseBootDevice(bootParam('0004000000', 'Force PXE')), 'network');
  t.is(parseBootDevice(bootParam('0008000000', 'Force Boot from default Hard-Drive')), 'disk');
  t.is(parseBootDevice(bootParam('80c8000000', 'Force Boot from default Hard-Drive')), 'disk', 'valid and persistent flags do not change the device');
  t.is(parseBootDevice(bootParam('0014000000', 'Force Boot from CD/DVD')), 'Force Boot from CD/DVD');
  t.is(parseBootDevice('Error'), undefined);
});

test('ipmitool -v chatter is dropped from the words kept', (t) => {
  t.is(ipmitoolWords(`${chatter}`), '');
  t.is(ipmitoolWords(failed.wrongPassword), 'RAKP 2 HMAC is invalid; Error: Unable to establish IPMI v2 / RMCP+ session');
  t.is(ipmitoolWords(failed.powerOnRefused), 'Set Chassis Power Control to Up/On failed: Insufficient privilege level');
});

test("a wrong password or user is auth, in ipmitool's words, naming the BMC and what was done", (t) => {
  for (const [stderr, words] of [
    [failed.wrongPassword, 'RAKP 2 HMAC is invalid'],
    [failed.wrongUser, 'unauthorized name'],
    [failed.noPassword, 'Unable to read password from environment'],
  ]) {
    const err = failure('ipmi 127.0.0.1:9001', 'chassis power status', { code: 1, stdout: '', stderr });
    t.is(err.reason, 'auth', err.message);
    t.true(err.message.startsWith('ipmi 127.0.0.1:9001: chassis power status: '), err.message);
    t.true(err.message.includes(words), err.message);
  }
});

test('no answer or an unknown host is unreachable, naming the BMC address', (t) => {
  for (const stderr of [failed.noAnswer, failed.noSuchHost]) {
    const err = failure('ipmi 10.1.2.3:623', 'chassis power on', { code: 1, stdout: '', stderr });
    t.is(err.reason, 'unreachable', err.message);
    t.regex(err.message, /^ipmi 10\.1\.2\.3:623: chassis power on: no answer from the BMC at 10\.1\.2\.3:623/);
  }
});

test('a command the BMC refuses is refused; a cipher suite it lacks is unsupported; anything else is protocol', (t) => {
  const refused = failure('ipmi b:623', 'chassis power on', { code: 1, stdout: '', stderr: failed.powerOnRefused });
  t.is(refused.reason, 'refused');
  t.regex(refused.message, /Insufficient privilege level/);
  t.is(failure('ipmi b:623', 'chassis power off', { code: 1, stdout: '', stderr: failed.powerOffFailed }).reason, 'refused');
  const suite = failure('ipmi b:623', 'chassis power status', { code: 1, stdout: '', stderr: failed.cipherSuite17 });
  t.is(suite.reason, 'unsupported');
  t.regex(suite.message, /cipherSuite.*invalid authentication algorithm/);
  const odd = failure('ipmi b:623', 'chassis power status', { code: 1, stdout: '', stderr: 'Error: something new\n' });
  t.is(odd.reason, 'protocol');
  t.regex(odd.message, /something new/);
});

test('the command line: lanplus, cipher suite 3 unless set, host and port apart, the password only in the environment', (t) => {
  const call = invocation(target(), ['chassis', 'power', 'status'], { timeoutMs: 20_000 });
  t.false(
    call.args.some((a) => a.includes('s3cret-pw')),
    call.args.join(' '),
  );
  t.is(call.env.IPMI_PASSWORD, 's3cret-pw');
  t.deepEqual(call.args.slice(0, 15), ['-v', '-I', 'lanplus', '-C', '3', '-H', '127.0.0.1', '-p', '9001', '-U', 'admin', '-E', '-N', '1', '-R']);
  t.deepEqual(call.args.slice(-3), ['chassis', 'power', 'status']);
  const v6 = invocation(target({ address: '[fd00::5]', options: { cipherSuite: 17 } }), ['chassis', 'power', 'on'], { timeoutMs: 5_000 });
  t.deepEqual(v6.args.slice(3, 9), ['-C', '17', '-H', 'fd00::5', '-p', '623']);
  const bad = t.throws(() => invocation(target({ address: 'bmc.example:99999' }), [], { timeoutMs: 5_000 }));
  t.true(bad instanceof PowerError && bad.reason === 'unsupported', bad?.message);
  const suite = t.throws(() => invocation(target({ options: { cipherSuite: 'fast' } }), [], { timeoutMs: 5_000 }));
  t.regex(suite?.message ?? '', /cipherSuite/);
});

test('retries fit the call timeout (ipmitool waits 2, 6, 12, 20 s for 1-4 retries of one second)', (t) => {
  t.is(retriesFor(5_000), 1);
  t.is(retriesFor(10_000), 2);
  t.is(retriesFor(20_000), 3);
  t.is(retriesFor(600_000), 5);
});

/**
 * The one MAC rule every package imports from the light SDK: the spellings the machines
 * API documents (colons, dashes, Cisco dots, bare hex; any case) become
 * `aa:bb:cc:dd:ee:ff`; mixed separators and anything else are refused, as a
 * SPROUT_ERR_VALIDATION naming the field; the API's schema pattern agrees with the parser.
 */
import test from 'ava';
import { macPattern, normalisedMacPattern, normaliseMac, parseMac } from '@sprout/kernel/sdk';

const accepted = [
  'aa:bb:cc:0d:0e:0f',
  'AA:BB:CC:0D:0E:0F',
  'aa-bb-cc-0d-0e-0f',
  'AA-BB-CC-0D-0E-0F',
  'aabb.cc0d.0e0f',
  'AABB.CC0D.0E0F',
  'aabbcc0d0e0f',
  'AaBbCc0D0e0F',
];
const refused = [
  '',
  'aa:bb:cc:dd:ee',
  'aa:bb:cc:dd:ee:ff:00',
  'aa:bb-cc:dd:ee:ff',
  'aa:bbcc:dd:ee:ff',
  'aabb.ccdd.eef',
  'aabb:ccdd:eeff',
  'gg:bb:cc:dd:ee:ff',
  'a:b:c:d:e:f',
  'aa.bb.cc.dd.ee.ff',
  'aa bb cc dd ee ff',
  'aabbccddeeff0',
];

test('every documented spelling becomes lowercase colon form', (t) => {
  for (const spelling of accepted) {
    t.is(parseMac(spelling), 'aa:bb:cc:0d:0e:0f', spelling);
    t.is(normaliseMac(spelling), 'aa:bb:cc:0d:0e:0f', spelling);
  }
  t.is(parseMac(' aa:bb:cc:0d:0e:0f\n'), 'aa:bb:cc:0d:0e:0f', 'surrounding whitespace is ignored');
});

test('mixed separators and other shapes are refused: undefined from parseMac, a validation problem from normaliseMac', (t) => {
  for (const bad of refused) {
    t.is(parseMac(bad), undefined, bad);
    const err = t.throws(() => normaliseMac(bad, 'interfaces/0/mac'), { code: 'SPROUT_ERR_VALIDATION' }, bad);
    t.deepEqual(
      (err as unknown as { details: { field: string }[] }).details.map((d) => d.field),
      ['interfaces/0/mac'],
    );
  }
  for (const notText of [null, undefined, 42 as unknown as string]) t.is(parseMac(notText), undefined);
});

test("the API's pattern accepts exactly what parseMac accepts (without surrounding whitespace), and every result matches the normalised pattern", (t) => {
  const spelled = new RegExp(macPattern);
  const normalised = new RegExp(normalisedMacPattern);
  for (const text of [...accepted, ...refused]) t.is(spelled.test(text), parseMac(text) !== undefined, text);
  for (const text of accepted) t.true(normalised.test(parseMac(text)!), text);
  t.false(spelled.test(' aa:bb:cc:0d:0e:0f'));
});

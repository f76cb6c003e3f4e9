/** MAC spellings reservations accept, and the ones they refuse. */
import test from 'ava';
import { normaliseMac } from '../src/index.ts';

test('colons, dashes, Cisco dots and bare hex all become lowercase colon form', (t) => {
  for (const spelling of ['AA:BB:CC:0D:0E:0F', 'aa-bb-cc-0d-0e-0f', 'AABB.CC0D.0E0F', 'aabbcc0d0e0f', ' aa:bb:cc:0d:0e:0f ']) {
    t.is(normaliseMac(spelling), 'aa:bb:cc:0d:0e:0f', spelling);
  }
});

test('anything else is SPROUT_ERR_VALIDATION naming the mac field', (t) => {
  for (const bad of ['', 'aa:bb:cc:dd:ee', 'aa:bb:cc:dd:ee:ff:00', 'aa:bb-cc:dd:ee:ff', 'gg:bb:cc:dd:ee:ff', 'a:b:c:d:e:f', 'aabb.ccdd.eef']) {
    const err = t.throws(() => normaliseMac(bad), { code: 'SPROUT_ERR_VALIDATION' }, bad);
    t.is((err as unknown as { details: { field: string }[] }).details[0]?.field, 'mac');
  }
});

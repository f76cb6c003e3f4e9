/**
 * The image builder's user-space disk assembly: the GPT layout sfdisk is given, and the
 * patches that make GRUB's boot.img find core.img in the BIOS boot partition.
 */
import test from 'ava';
import { diskLayout, partitionTypes, patchedCoreImg, patchedMbr, sfdiskScript } from '../src/image/disk-layout.ts';

test('the layout puts BIOS boot, ESP and root in order, MiB-aligned, root last, with room for the backup GPT', (t) => {
  const layout = diskLayout(700);
  t.deepEqual([layout.biosBoot.start, layout.esp.start, layout.root.start], [2048, 4096, 131072]);
  t.is(layout.root.size, 700 * 2048);
  t.is(layout.bytes, (131072 + 700 * 2048) * 512 + 1024 * 1024);
  t.is(layout.bytes % (1024 * 1024), 0);
  const script = sfdiskScript(layout);
  t.regex(script, /^label: gpt$/m);
  t.regex(script, new RegExp(`start=131072, size=${700 * 2048}, type=${partitionTypes.rootX86_64}, name="root"\\n$`));
  t.throws(() => diskLayout(10), { message: /at least 64/ });
});

test('boot.img goes into the MBR keeping its partition table, pointing at core.img', (t) => {
  const mbr = Buffer.alloc(512);
  mbr.fill(0xee, 440); // disk signature and protective partition table
  const bootImg = Buffer.alloc(512, 0x90);
  const out = patchedMbr(mbr, bootImg, 2048);
  t.is(Number(out.readBigUInt64LE(0x5c)), 2048);
  t.is(out[0], 0x90);
  t.true(
    out.subarray(440).every((b) => b === 0xee),
    'partition table untouched',
  );
  t.throws(() => patchedMbr(mbr, Buffer.alloc(100), 2048));
});

test("core.img's blocklist is pointed at its second sector; a core.img too big or not one is refused", (t) => {
  const core = Buffer.alloc(512 * 60);
  core.writeUInt16LE(59, 500 + 8); // what grub-mkimage writes: the sectors after diskboot
  const room = { name: 'bios', type: partitionTypes.biosBoot, start: 2048, size: 2048 };
  t.is(Number(patchedCoreImg(core, 2048, room).readBigUInt64LE(500)), 2049);
  t.throws(() => patchedCoreImg(core, 2048, { ...room, size: 10 }), { message: /more than the BIOS boot partition/ });
  t.throws(() => patchedCoreImg(Buffer.alloc(512 * 60), 2048, room), { message: /not an i386-pc core.img/ });
});

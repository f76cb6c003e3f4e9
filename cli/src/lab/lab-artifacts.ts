/**
 * What the lab's agent serves: boot files over TFTP (Debian's iPXE builds when the `ipxe`
 * package is installed), the installer kernel and initrd (the real ones from `sprout
 * artifacts build-installer` when they are in the artifact folder, else stand-ins the
 * simulator downloads and checks like any other file) and a demo image.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LabArtifacts {
  tftpRoot: string;
  artifactRoot: string;
  /** Name to deploy (`images/<name>` under the artifact root) and its sum. */
  image: { name: string; sha256: string; bytes: number };
  /** True when the installer is a real kernel + initramfs, false for stand-ins. */
  realInstaller: boolean;
}

const debianIpxe = '/usr/lib/ipxe';
export const demoImageName = 'demo-os.raw';
const demoImageBytes = 8 * 1024 * 1024;

export function prepareArtifacts(dir: string): LabArtifacts {
  const tftpRoot = join(dir, 'tftp');
  const artifactRoot = join(dir, 'artifacts');
  mkdirSync(tftpRoot, { recursive: true });
  mkdirSync(join(artifactRoot, 'installer'), { recursive: true });
  mkdirSync(join(artifactRoot, 'images'), { recursive: true });

  for (const file of ['undionly.kpxe', 'ipxe.efi']) {
    const target = join(tftpRoot, file);
    if (existsSync(target)) continue;
    if (existsSync(join(debianIpxe, file))) copyFileSync(join(debianIpxe, file), target);
    else writeFileSync(target, standIn(`${file}: stand-in boot loader (install Debian's ipxe package for the real one)`, 64 * 1024));
  }
  const kernel = join(artifactRoot, 'installer', 'vmlinuz');
  const initrd = join(artifactRoot, 'installer', 'initrd.img');
  const realInstaller = existsSync(join(artifactRoot, 'installer', 'manifest.json'));
  if (!existsSync(kernel)) writeFileSync(kernel, standIn('stand-in installer kernel for simulated machines', 2 * 1024 * 1024));
  if (!existsSync(initrd)) writeFileSync(initrd, standIn('stand-in installer initrd for simulated machines', 1024 * 1024));

  const imagePath = join(artifactRoot, 'images', demoImageName);
  const image = standIn('Sprout demo OS image', demoImageBytes);
  if (!existsSync(imagePath)) writeFileSync(imagePath, image);
  return {
    tftpRoot,
    artifactRoot,
    realInstaller,
    image: { name: demoImageName, sha256: createHash('sha256').update(image).digest('hex'), bytes: image.length },
  };
}

/** Deterministic bytes of a given size, starting with a label saying what they are. */
function standIn(label: string, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  let block = createHash('sha256').update(label).digest();
  for (let at = 0; at < bytes; at += block.length) {
    block.copy(out, at);
    block = createHash('sha256').update(block).digest();
  }
  Buffer.from(`${label}\n`).copy(out, 0);
  return out;
}

/**
 * The Debian packages the installer tests read, downloaded once with apt into a folder
 * kept across runs (shared with the QEMU end-to-end test) and unpacked there.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { download, kernelPackageOf, unpack } from '../src/installer/debian-package.ts';

export const debCache = join(tmpdir(), 'sprout-e2e-installer', 'debs');

const unpacked = new Map<string, Promise<string>>();

/** The package's files, unpacked under the cache (once per process). */
export function unpackedPackage(name: string): Promise<string> {
  if (!unpacked.has(name)) {
    unpacked.set(
      name,
      download(name, debCache).then((pkg) => unpack(pkg, join(debCache, 'unpacked', `${pkg.name}_${pkg.version}`))),
    );
  }
  return unpacked.get(name)!;
}

export async function busybox(): Promise<string> {
  return join(await unpackedPackage('busybox-static'), 'bin', 'busybox');
}

/** lib/modules/<release> of the current kernel of a flavour, and the release. */
export async function kernelModules(meta: 'linux-image-cloud-amd64' | 'linux-image-amd64'): Promise<{ dir: string; release: string }> {
  const name = await kernelPackageOf(meta);
  const release = name.replace(/^linux-image-/, '');
  return { dir: join(await unpackedPackage(name), 'lib', 'modules', release), release };
}

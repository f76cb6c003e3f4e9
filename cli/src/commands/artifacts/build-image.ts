import { resolve } from 'node:path';
import { SproutCommand, SproutError, Command, Option } from '@sprout/kernel/cli';

export class ArtifactsBuildImageCommand extends SproutCommand {
  static paths = [['artifacts', 'build-image']];
  static usage = Command.Usage({
    category: 'Artifacts',
    description: 'Build a bootable OS disk image (GPT, GRUB for BIOS and UEFI, cloud-init, OpenSSH) from Debian packages',
    details:
      'Runs mmdebstrap (as root) with the .debs kept in --cache, then writes partitions, filesystems and GRUB into the image file directly ' +
      '(no loop devices or mounts). Writes <out>/images/<name>.raw (.raw.gz/.raw.xz with --compress) and <out>/images/<name>.json, its manifest. ' +
      'An image built from the same inputs is reused unless --force. See docs/images.md.',
    examples: [
      ['Into the agent artifact root', 'sprout artifacts build-image debian-12 --out /var/lib/sprout-agent/artifacts'],
      ['Compressed, rebuilt', 'sprout artifacts build-image debian-12 --compress gzip --force'],
    ],
  });

  name = Option.String({ name: 'name' });
  out = Option.String('--out', './artifacts', { description: 'Artifact root to write images/ into (default ./artifacts)' });
  flavour = Option.String('--kernel-flavour', 'cloud', { description: 'Debian kernel flavour: cloud (virtio, small) or generic (real hardware drivers)' });
  compress = Option.String('--compress', 'none', { description: 'none (default), gzip or xz: formats the installer decompresses while it writes' });
  cache = Option.String('--cache', { description: 'Folder for downloaded .debs, reused across builds (default ~/.cache/sprout/image-debs)' });
  force = Option.Boolean('--force', false, { description: 'Rebuild even when an image from the same inputs is there' });

  async run() {
    const { buildImage, imageNames, compressions } = await import('@sprout/agent/image');
    const { kernelFlavours } = await import('@sprout/agent/installer');
    if (!imageNames.includes(this.name)) throw new SproutError('SPROUT_ERR_VALIDATION', `name must be one of: ${imageNames.join(', ')} (got ${this.name})`);
    if (!(kernelFlavours as string[]).includes(this.flavour))
      throw new SproutError('SPROUT_ERR_VALIDATION', `--kernel-flavour must be one of: ${kernelFlavours.join(', ')} (got ${this.flavour})`);
    if (!(compressions as string[]).includes(this.compress))
      throw new SproutError('SPROUT_ERR_VALIDATION', `--compress must be one of: ${compressions.join(', ')} (got ${this.compress})`);
    const result = await buildImage({
      name: this.name,
      out: resolve(this.out),
      flavour: this.flavour as (typeof kernelFlavours)[number],
      compress: this.compress as (typeof compressions)[number],
      cacheDir: this.cache ? resolve(this.cache) : undefined,
      force: this.force,
      progress: (line) => !this.json && this.context.stderr.write(`${line}\n`),
    });
    const m = result.manifest;
    this.print({ ...m, path: result.imagePath, manifestPath: result.manifestPath, reused: result.reused }, () =>
      [
        result.reused
          ? `reusing ${result.imagePath} (built ${m.builtAt} from the same inputs; --force rebuilds)`
          : `built ${result.imagePath} in ${m.buildSeconds} s`,
        `  format   ${m.format}${m.compression === 'none' ? '' : ` (${m.compression}; ${m.raw.size} bytes raw, sha256 ${m.raw.sha256})`}`,
        `  size     ${m.size} bytes`,
        `  sha256   ${m.sha256}`,
        `  suite    ${m.suite}, ${m.packages} packages, kernel ${m.kernel.package} ${m.kernel.version}`,
        `  manifest ${result.manifestPath}`,
        JSON.stringify(m, null, 2),
      ].join('\n'),
    );
    return 0;
  }
}

import { resolve } from 'node:path';
import { SproutCommand, SproutError, Command, Option } from '@sprout/kernel/cli';

export class ArtifactsBuildInstallerCommand extends SproutCommand {
  static paths = [['artifacts', 'build-installer']];
  static usage = Command.Usage({
    category: 'Artifacts',
    description: "Build the installer (kernel + initramfs) the agent's http service boots machines into, from Debian packages",
    details:
      'Downloads a Debian linux-image package and busybox-static with apt-get download (kept in --cache; nothing is installed), ' +
      'and writes <out>/installer/vmlinuz, initrd.img and manifest.json — the paths the http service serves by default under its artifactRoot. ' +
      'The initramfs runs the /init in agent/installer/: DHCP, metadata from the agent, hardware tests, image install, callbacks.',
    examples: [
      ['Into the agent artifact root', 'sprout artifacts build-installer --out /var/lib/sprout-agent/artifacts'],
      ['With e1000/AHCI drivers (generic kernel)', 'sprout artifacts build-installer --kernel-flavour generic'],
    ],
  });

  out = Option.String('--out', './artifacts', { description: 'Artifact root to write installer/ into (default ./artifacts)' });
  flavour = Option.String('--kernel-flavour', 'cloud', { description: 'Debian kernel flavour: cloud (virtio, small) or generic (adds e1000, AHCI…)' });
  cache = Option.String('--cache', { description: 'Folder for downloaded .debs, reused across builds (default ~/.cache/sprout/debs)' });

  async run() {
    const { buildInstaller, kernelFlavours } = await import('@sprout/agent/installer');
    if (!(kernelFlavours as string[]).includes(this.flavour)) {
      throw new SproutError('SPROUT_ERR_VALIDATION', `--kernel-flavour must be one of: ${kernelFlavours.join(', ')} (got ${this.flavour})`);
    }
    const out = resolve(this.out);
    const manifest = await buildInstaller({
      out,
      flavour: this.flavour as (typeof kernelFlavours)[number],
      cacheDir: this.cache ? resolve(this.cache) : undefined,
      progress: (line) => !this.json && this.context.stderr.write(`${line}\n`),
    });
    this.print({ out, ...manifest }, () =>
      [
        `installer built in ${out}/installer`,
        `  kernel   ${manifest.kernel.package} ${manifest.kernel.version} (${manifest.kernel.flavour})`,
        `  busybox  ${manifest.busybox.package} ${manifest.busybox.version}`,
        `  modules  ${manifest.modules.join(' ') || '-'}`,
        `  vmlinuz  ${manifest.vmlinuz.bytes} bytes  sha256 ${manifest.vmlinuz.sha256}`,
        `  initrd   ${manifest.initrd.bytes} bytes  sha256 ${manifest.initrd.sha256}`,
      ].join('\n'),
    );
    return 0;
  }
}

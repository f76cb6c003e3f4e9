/**
 * Where a local server would be, from the same config it would load, so that on the
 * server's own machine `sprout token create` works without `sprout login`.
 */
import { adminTokenFile, quickSettings } from '@sprout/kernel/discovery';
import type { LocalDefaults } from '@sprout/kernel/cli';

export function localDefaults(): LocalDefaults | undefined {
  try {
    const settings = quickSettings();
    return { listen: settings.listen, tls: settings.tls, adminTokenFile: adminTokenFile(settings.dataDir) };
  } catch {
    return undefined;
  }
}

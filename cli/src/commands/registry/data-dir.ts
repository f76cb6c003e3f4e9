/** Where `sprout registry …` keeps the registry: --data-dir, else `<dataDir>/registry` of the config. */
import { resolve } from 'node:path';
import { Option } from 'clipanion';

export const registryDirOption = () =>
  Option.String('--data-dir', { description: 'Registry folder: config, storage, log (default <dataDir>/registry of the config)' });

export async function registryDir(given: string | undefined, configFile: string | undefined): Promise<string> {
  if (given) return resolve(given);
  const { quickSettings } = await import('@sprout/kernel/discovery');
  return resolve(quickSettings({ file: configFile }).dataDir, 'registry');
}

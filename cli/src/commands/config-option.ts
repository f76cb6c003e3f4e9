/** The `--config` option shared by commands that read the local config file. */
import { Option } from 'clipanion';
import { builtinPlugins } from '../builtin-plugins.ts';

export const configOption = () => Option.String('--config', { description: 'Config file (default: ./sprout.yaml or $SPROUT_CONFIG)' });

/** The validated config; loads the schema library, so only inside `run()`. */
export async function readConfig(file: string | undefined) {
  const { loadConfig } = await import('@sprout/kernel');
  // The builtins' manifests name the kernel keys of older configurations that became their settings.
  return loadConfig({ file, plugins: builtinPlugins });
}

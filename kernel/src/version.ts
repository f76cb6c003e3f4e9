/** The kernel's version and the plugin API version it offers, from its package.json. */
import { readFileSync } from 'node:fs';

const kernelPackage = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/** Plugins declare the range of this version they work with (`sprout.apiVersion`). */
export const kernelApiVersion: string = kernelPackage.sprout.apiVersion;
export const kernelVersion: string = kernelPackage.version;

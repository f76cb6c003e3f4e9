/**
 * Imported by `bin/sprout.js` before tsx is registered (and so plain JavaScript): the
 * large ESM-only packages the kernel needs are loaded here, by Node alone. typebox is
 * ~680 modules; loaded after tsx, each goes through tsx's loader thread, which cost a
 * site agent ~28 MiB of RSS and every `sprout` command startup time. Later imports of
 * the same packages find them in Node's module cache.
 */
await Promise.all([import('typebox'), import('typebox/value')]);

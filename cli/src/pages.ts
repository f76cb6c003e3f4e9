/**
 * Paginated lists as the CLI shows them: one page (or every page with --all), the
 * cursor of the next page kept for --json, and a notice on stderr when a page was cut
 * short so a truncated table is never mistaken for the whole list.
 */

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * Pages of a list, through `page(cursor)`: a typed client call, so the items' type is the
 * route's answer, e.g. `fetchPages((cursor) => ok(api.typed.GET('/v1/machines', { params: { query: { cursor } } })), options)`.
 */
export async function fetchPages<T>(page: (cursor: string | undefined) => Promise<Page<T>>, options: { all: boolean; cursor?: string }): Promise<Page<T>> {
  const items: T[] = [];
  let cursor = options.cursor;
  let nextCursor: string | null;
  do {
    const answer = await page(cursor);
    items.push(...answer.items);
    nextCursor = answer.nextCursor ?? null;
    cursor = nextCursor ?? undefined;
  } while (options.all && cursor);
  return { items, nextCursor };
}

/** The stderr line that says a list goes on, and the command (as typed, cursor replaced) that shows the rest. */
export function truncationNotice(page: Page<unknown>, argv: string[] = process.argv.slice(2)): string {
  if (!page.nextCursor) return '';
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--cursor') i++;
    else if (!argv[i].startsWith('--cursor=')) args.push(/^[\w@%+=:,./-]+$/.test(argv[i]) ? argv[i] : `'${argv[i].replace(/'/g, `'\\''`)}'`);
  }
  return `note: showing ${page.items.length}, more remain; next page: sprout ${args.join(' ')} --cursor ${page.nextCursor} (or --all for everything)\n`;
}

import { SproutCommand, Command, Option, table, readFlagFile, FlagInputError, ok } from '@sprout/kernel/cli';

export class MachineImportCommand extends SproutCommand {
  static paths = [['machine', 'import']];
  static usage = Command.Usage({
    category: 'Machines',
    description:
      'Import machines from CSV (site,hostname,arch,bootMode,mac,tags[,bmc_type,bmc_address,bmc_username,bmc_password][,cpus,memoryMiB,disks]) or a JSON array; answers per row',
    details:
      'Several MACs or tags go in one cell separated by spaces; the first MAC is the PXE interface. cpus, memoryMiB and disks are the hardware commissioning must find. Quoted cells may hold commas, quotes and newlines; unknown columns are ignored with a warning. Importing the same file again changes nothing. Exits 1 when any row failed.',
    examples: [
      ['From CSV', 'sprout machine import rack1.csv'],
      ['From stdin', 'cat rack1.json | sprout machine import -'],
    ],
  });

  file = Option.String({ name: 'file' });

  async run() {
    const text = readFlagFile('import file', this.file);
    const isJson = /^\s*\[/.test(text);
    const api = this.api().typed;
    // A JSON array as JSON; CSV as it was read, under its own content type (the route takes both).
    const result = await ok(
      isJson
        ? api.POST('/v1/machines/import', { body: parseJson(this.file, text) })
        : api.POST('/v1/machines/import', { body: text, bodySerializer: (csv) => csv as string, headers: { 'content-type': 'text/csv' } }),
    );
    for (const warning of result.warnings) this.context.stderr.write(`warning: ${warning}\n`);
    this.print(result, () => {
      const lines = [`${result.created} created, ${result.unchanged} unchanged, ${result.errors} with errors`];
      const bad = result.rows.filter((r) => r.outcome === 'error');
      if (bad.length)
        lines.push(
          '',
          table(
            ['ROW', 'HOSTNAME', 'FIELD', 'PROBLEM'],
            bad.flatMap((r) => (r.errors ?? []).map((e) => [r.row, r.hostname, e.field, e.message])),
          ),
        );
      return lines.join('\n');
    });
    return result.errors > 0 ? 1 : 0;
  }
}

function parseJson(file: string, text: string): unknown[] {
  try {
    return JSON.parse(text) as unknown[];
  } catch (err) {
    throw new FlagInputError('import file', `${file === '-' ? 'standard input' : file}: not valid JSON (${(err as Error).message})`);
  }
}

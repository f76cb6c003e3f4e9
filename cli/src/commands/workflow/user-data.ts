import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';

export class WorkflowUserDataCommand extends SproutCommand {
  static paths = [['workflow', 'user-data']];
  static usage = Command.Usage({
    category: 'Workflows',
    description: "Print a deploy's user-data exactly as it was given (operators; every read is audited). Workflow views show only its sha256 and size.",
    examples: [['Save it to a file', 'sprout workflow user-data 6f1c… > user-data.yaml']],
  });

  workflow = Option.String({ name: 'workflow-id' });

  async run() {
    const found = await ok(this.api().typed.GET('/v1/workflows/{id}/user-data', { params: { path: { id: this.workflow } } }));
    // Byte for byte as given: no newline added, so the output's sha256 is the one the workflow shows.
    if (this.json) this.print(found, () => '');
    else this.context.stdout.write(found.userData);
  }
}

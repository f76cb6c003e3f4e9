import { SproutCommand, Command, Option } from '@sprout/kernel/cli';

interface UserData {
  workflow: string;
  userData: string;
  sha256: string;
  size: number;
}

export class WorkflowUserDataCommand extends SproutCommand {
  static paths = [['workflow', 'user-data']];
  static usage = Command.Usage({
    category: 'Workflows',
    description: "Print a deploy's user-data exactly as it was given (operators; every read is audited). Workflow views show only its sha256 and size.",
    examples: [['Save it to a file', 'sprout workflow user-data 6f1c… > user-data.yaml']],
  });

  workflow = Option.String({ name: 'workflow-id' });

  async run() {
    const found = await this.api().get<UserData>(`v1/workflows/${encodeURIComponent(this.workflow)}/user-data`);
    // Byte for byte as given: no newline added, so the output's sha256 is the one the workflow shows.
    if (this.json) this.print(found, () => '');
    else this.context.stdout.write(found.userData);
  }
}

import { SproutCommand, Command, Option, ok } from '@sprout/kernel/cli';
import { machineDetails } from '../../render/machine.ts';
import { activeStep, currentStep, elapsed, machineHeard, type Workflow } from '../../render/workflow.ts';

export class MachineShowCommand extends SproutCommand {
  static paths = [['machine', 'show']];
  static usage = Command.Usage({
    category: 'Machines',
    description: 'Show a machine: status and failure reason first',
    examples: [['Show', 'sprout machine show node-01']],
  });

  machine = Option.String({ name: 'machine' });

  async run() {
    const api = this.api();
    const machine = await ok(api.typed.GET('/v1/machines/{id}', { params: { path: { id: this.machine } } }));
    // A machine in a workflow: the step it is at and what that step last said (e.g. who must power it on).
    const id = machine.currentWorkflow;
    const workflow = id && !this.json ? await ok(api.typed.GET('/v1/workflows/{id}', { params: { path: { id } } })).catch(() => undefined) : undefined;
    const now = workflow && currentStep(workflow) && [currentStep(workflow), ...stepAge(workflow)].join('\n');
    this.print(machine, () => machineDetails(machine, now));
  }
}

/** How long the current step has waited, whether a cancel is pending, and its last log lines (a stuck step's last words). */
function stepAge(w: Workflow): string[] {
  const step = activeStep(w);
  if (!step) return [];
  const lines = [`  ${step.state} for ${elapsed(step.startedAt ?? w.createdAt)}${w.cancelRequested ? ' (cancel requested)' : ''}`];
  const heard = machineHeard(step);
  if (heard) lines.push(`  ${heard}`);
  for (const line of step.logTail.slice(-5)) lines.push(`  | ${line}`);
  return lines;
}

/**
 * The machine lifecycle as one table. Every status change in Sprout is an action from
 * this table; nothing else writes `machines.status`. Operator actions are what the API
 * offers; the others are taken by workflows and the watchdog.
 */
export const machineStatuses = [
  'new',
  'commissioning',
  'ready',
  'allocated',
  'deploying',
  'deployed',
  'releasing',
  'testing',
  'broken',
  'failed_commissioning',
  'failed_testing',
  'failed_deployment',
  'failed_releasing',
] as const;
export type MachineStatus = (typeof machineStatuses)[number];

/** In-progress states, each with its failure state and watchdog. */
export const inProgress = {
  commissioning: { failure: 'failed_commissioning', timeout: 'commissioning' },
  testing: { failure: 'failed_testing', timeout: 'testing' },
  deploying: { failure: 'failed_deployment', timeout: 'deploying' },
  releasing: { failure: 'failed_releasing', timeout: 'releasing' },
} as const satisfies Record<string, { failure: MachineStatus; timeout: string }>;
export type InProgressStatus = keyof typeof inProgress;

export function isInProgress(status: string): status is InProgressStatus {
  return status in inProgress;
}

export const failureStatuses: MachineStatus[] = ['broken', 'failed_commissioning', 'failed_testing', 'failed_deployment', 'failed_releasing'];

interface Transition {
  from: readonly MachineStatus[] | 'in-progress';
  /** A fixed target, or `returns` for cancel (back where the workflow started). */
  to: MachineStatus | 'returns' | 'failure-of-current';
  /** Offered to operators through the API. */
  operator: boolean;
  /** Other targets the caller may choose (mark-fixed of a never-commissioned machine → new). */
  alternatives?: readonly MachineStatus[];
}

const settled: MachineStatus[] = ['new', 'ready', 'allocated', 'deployed', 'failed_commissioning', 'failed_testing', 'failed_deployment', 'failed_releasing'];

export const transitions = {
  commission: { from: ['new', 'ready', 'failed_commissioning', 'failed_testing'], to: 'commissioning', operator: true },
  commission_succeeded: { from: ['commissioning'], to: 'ready', operator: false },
  commission_failed: { from: ['commissioning'], to: 'failed_commissioning', operator: false },
  test: { from: ['ready', 'failed_testing'], to: 'testing', operator: true },
  test_succeeded: { from: ['testing'], to: 'ready', operator: false },
  /** Hardware tests failed, whether run while commissioning or on their own. */
  test_failed: { from: ['testing', 'commissioning'], to: 'failed_testing', operator: false },
  allocate: { from: ['ready'], to: 'allocated', operator: true },
  deploy: { from: ['ready', 'allocated', 'failed_deployment'], to: 'deploying', operator: true },
  deploy_succeeded: { from: ['deploying'], to: 'deployed', operator: false },
  deploy_failed: { from: ['deploying'], to: 'failed_deployment', operator: false },
  release: { from: ['allocated', 'deployed', 'failed_deployment', 'failed_releasing'], to: 'releasing', operator: true },
  release_succeeded: { from: ['releasing'], to: 'ready', operator: false },
  release_failed: { from: ['releasing'], to: 'failed_releasing', operator: false },
  mark_broken: { from: settled, to: 'broken', operator: true },
  mark_fixed: { from: ['broken'], to: 'ready', alternatives: ['new'], operator: true },
  /** A workflow was cancelled: back to the status it started from. */
  cancel: { from: 'in-progress', to: 'returns', operator: false },
  /** The watchdog fired: the in-progress state's failure state. */
  watchdog_timeout: { from: 'in-progress', to: 'failure-of-current', operator: false },
} as const satisfies Record<string, Transition>;

export type LifecycleAction = keyof typeof transitions;

export function allowedFrom(status: string, action: LifecycleAction): boolean {
  const { from } = transitions[action] as Transition;
  return from === 'in-progress' ? isInProgress(status) : (from as readonly string[]).includes(status);
}

/** Per status, computed once: every machine in a listed page asks (the table is constant). */
const operatorActionsByStatus = new Map<string, readonly string[]>();

/** The operator actions possible from a status, for 409 answers and `machine show`. */
export function operatorActionsFrom(status: string): string[] {
  let actions = operatorActionsByStatus.get(status);
  if (!actions) {
    actions = (Object.keys(transitions) as LifecycleAction[])
      .filter((a) => (transitions[a] as Transition).operator && allowedFrom(status, a))
      .map((a) => a.replace('_', '-'));
    if (operatorActionsByStatus.size < 256) operatorActionsByStatus.set(status, actions);
  }
  // A copy: callers own their array.
  return [...actions];
}

/** Where an action leads from `status`; `returnTo` answers `returns` (cancel). */
export function targetOf(action: LifecycleAction, status: string, options: { returnTo?: string; choose?: MachineStatus } = {}): MachineStatus {
  const t = transitions[action] as Transition;
  if (t.to === 'returns') return (options.returnTo ?? 'new') as MachineStatus;
  if (t.to === 'failure-of-current') return inProgress[status as InProgressStatus].failure;
  if (options.choose && (options.choose === t.to || t.alternatives?.includes(options.choose))) return options.choose;
  return t.to;
}

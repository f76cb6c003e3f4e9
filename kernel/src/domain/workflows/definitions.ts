/**
 * What each workflow kind does, as an ordered list of typed steps, and which lifecycle
 * actions start, finish and fail it. Control steps run in the kernel's engine; site
 * steps go through the outbox to the site's agent.
 */
import type { LifecycleAction } from '../lifecycle/transitions.ts';

export const workflowKinds = ['commission', 'deploy', 'release', 'test', 'sync-site'] as const;
export type WorkflowKind = (typeof workflowKinds)[number];

export const workflowStates = ['pending', 'dispatched', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const;
export type WorkflowState = (typeof workflowStates)[number];
export const finishedStates: WorkflowState[] = ['succeeded', 'failed', 'cancelled', 'timed_out'];

export const stepStates = ['pending', 'dispatched', 'running', 'succeeded', 'failed', 'cancelled', 'skipped'] as const;

export interface StepSpec {
  name: string;
  kind: 'control' | 'site';
  timeoutMs: number;
  maxAttempts: number;
}

export interface WorkflowDefinition {
  /** Lifecycle actions of the machine; absent for site workflows. */
  start?: LifecycleAction;
  succeeded?: LifecycleAction;
  failed?: LifecycleAction;
  steps: (params: Record<string, unknown>) => StepSpec[];
  /**
   * Params that are secrets (user-data): kept apart from the params (workflow-secrets.ts),
   * sent with the workflow's work to its site, shown to viewers and audited only as sha256
   * and size. A new secret-bearing param is declared here, nowhere else.
   */
  secretParams?: readonly string[];
}

const control = (name: string, timeoutMs = 30_000, maxAttempts = 3): StepSpec => ({ name, kind: 'control', timeoutMs, maxAttempts });
const site = (name: string, timeoutMs: number): StepSpec => ({ name, kind: 'site', timeoutMs, maxAttempts: 1 });

const prepareNetwork = [control('allocate-ip'), control('reserve-dhcp'), control('write-dns')];
/** Boots the machine from the network into its step: next boot network, then on (or cycle); a manual machine waits for a person. */
const powerOn = site('power-on', 300_000);

/** Site steps that work a machine's power: their work item carries the machine's power target and the call timeout. */
export const powerSteps: ReadonlySet<string> = new Set(['check-bmc', 'power-on', 'boot-disk', 'power-off']);

export const workflowDefinitions: Record<WorkflowKind, WorkflowDefinition> = {
  commission: {
    start: 'commission',
    succeeded: 'commission_succeeded',
    failed: 'commission_failed',
    // The credentials first: a wrong password fails the workflow before anything is allocated.
    steps: () => [site('check-bmc', 120_000), ...prepareNetwork, control('publish-boot-intent'), powerOn, site('commission', 1_200_000)],
  },
  test: {
    start: 'test',
    succeeded: 'test_succeeded',
    failed: 'test_failed',
    steps: () => [...prepareNetwork, control('publish-boot-intent'), powerOn, site('run-hardware-tests', 1_200_000)],
  },
  deploy: {
    start: 'deploy',
    secretParams: ['userData'],
    succeeded: 'deploy_succeeded',
    failed: 'deploy_failed',
    // After the install the machine boots its disk: the intent says so, and its BMC is told (next boot disk).
    // Then the installed OS reports its first boot (cloud-init phone_home): the agent fails the step at
    // `firstBootSeconds` naming what it last heard; the step's own timeout is the backstop. `firstBoot: false`
    // (images without cloud-init) ends the deploy at boot-disk.
    steps: (params) => [
      ...prepareNetwork,
      control('publish-boot-intent'),
      powerOn,
      site('install', 2_400_000),
      control('set-local-boot'),
      site('boot-disk', 120_000),
      ...(params.firstBoot === false ? [] : [site('first-boot', (Number(params.firstBootSeconds) || 900) * 1000 + 60_000)]),
    ],
  },
  'sync-site': {
    steps: () => [site('sync-site', 120_000)],
  },
  release: {
    start: 'release',
    succeeded: 'release_succeeded',
    failed: 'release_failed',
    // The machine is off before its addresses go to the next one. With `params.erase` (release
    // --erase) it first boots the installer in erase mode, which wipes every disk, reports what
    // it wiped and powers off; power-off then makes sure.
    steps: (params) => [
      ...(params.erase === true ? [...prepareNetwork, control('publish-boot-intent'), powerOn, site('erase', 3_600_000)] : []),
      site('power-off', 120_000),
      control('clear-boot-intent'),
      control('release-addresses'),
    ],
  },
};

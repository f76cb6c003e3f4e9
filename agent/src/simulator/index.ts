/** The machine simulator: machines that PXE-boot from an agent over loopback (`@sprout/agent/simulator`). */
export { MachineSimulator, type MachineSimulatorOptions } from './machine-simulator.ts';
export {
  injectedFailures,
  type InjectedFailure,
  type PowerOnResult,
  type SimulatedMachine,
  type SimulatorEndpoints,
  type SimulatorEvent,
  type SimulatorEventKind,
} from './simulator-types.ts';

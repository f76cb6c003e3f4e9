/** `sprout lab …`: a whole installation on this machine, for trying Sprout and for tests. */
import { LabDemoCommand } from './demo.ts';
import { LabUpCommand } from './up.ts';
import { LabStatusCommand } from './status.ts';
import { LabDownCommand } from './down.ts';
import { LabSimulateCommand } from './simulate.ts';

export const labCommands = [LabDemoCommand, LabUpCommand, LabStatusCommand, LabDownCommand, LabSimulateCommand];

import { MachineCreateCommand } from './create.ts';
import { MachineImportCommand } from './import.ts';
import { MachineListCommand } from './list.ts';
import { MachineShowCommand } from './show.ts';
import { MachineUpdateCommand } from './update.ts';
import { MachineDeleteCommand } from './delete.ts';
import { MachineCommissionCommand } from './commission.ts';
import { MachineTestCommand } from './test.ts';
import { MachineDeployCommand } from './deploy.ts';
import { MachineReleaseCommand } from './release.ts';
import { MachineAllocateCommand } from './allocate.ts';
import { MachineMarkBrokenCommand } from './mark-broken.ts';
import { MachineMarkFixedCommand } from './mark-fixed.ts';
import { MachineEventsCommand } from './events.ts';
import { MachinePowerCommand } from './power.ts';

export const machineCommands = [
  MachineCreateCommand,
  MachineImportCommand,
  MachineListCommand,
  MachineShowCommand,
  MachineUpdateCommand,
  MachineDeleteCommand,
  MachineCommissionCommand,
  MachineTestCommand,
  MachineDeployCommand,
  MachineReleaseCommand,
  MachineAllocateCommand,
  MachineMarkBrokenCommand,
  MachineMarkFixedCommand,
  MachineEventsCommand,
  MachinePowerCommand,
];

/** `sprout network …` and `sprout ip …` commands. */
import type { SproutCommand } from '@sprout/kernel/cli';
import { NetworkCreateCommand } from './create.ts';
import { NetworkListCommand } from './list.ts';
import { NetworkShowCommand } from './show.ts';
import { NetworkUpdateCommand } from './update.ts';
import { NetworkDeleteCommand } from './delete.ts';
import { IpAllocateCommand } from './ip-allocate.ts';
import { IpListCommand } from './ip-list.ts';
import { IpReleaseCommand } from './ip-release.ts';

export const networkCommands: (typeof SproutCommand)[] = [
  NetworkCreateCommand,
  NetworkListCommand,
  NetworkShowCommand,
  NetworkUpdateCommand,
  NetworkDeleteCommand,
  IpAllocateCommand,
  IpListCommand,
  IpReleaseCommand,
];

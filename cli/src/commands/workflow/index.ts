import { WorkflowListCommand } from './list.ts';
import { WorkflowShowCommand } from './show.ts';
import { WorkflowCancelCommand } from './cancel.ts';
import { WorkflowWatchCommand } from './watch.ts';
import { WorkflowUserDataCommand } from './user-data.ts';

export const workflowCommands = [WorkflowListCommand, WorkflowShowCommand, WorkflowCancelCommand, WorkflowWatchCommand, WorkflowUserDataCommand];

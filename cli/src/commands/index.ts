/** The builtin commands, one class per file, in the order `sprout --help` groups them. */
import { ServerCommand } from './server.ts';
import { ConfigShowCommand } from './config/show.ts';
import { DbMigrateCommand } from './db/migrate.ts';
import { pluginCommandClasses } from './plugin/index.ts';
import { LoginCommand } from './login.ts';
import { TokenCreateCommand } from './token/create.ts';
import { TokenListCommand } from './token/list.ts';
import { TokenRevokeCommand } from './token/revoke.ts';
import { AuditListCommand } from './audit/list.ts';
import { AuditPruneCommand } from './audit/prune.ts';
import { networkCommands } from './network/index.ts';
import { siteCommands } from './site/index.ts';
import { machineCommands } from './machine/index.ts';
import { imageCommands } from './image/index.ts';
import { workflowCommands } from './workflow/index.ts';
import { AgentRunCommand } from './agent/run.ts';
import { ArtifactsBuildInstallerCommand } from './artifacts/build-installer.ts';
import { ArtifactsBuildImageCommand } from './artifacts/build-image.ts';
import { labCommands } from './lab/index.ts';

export const builtinCommands = [
  ServerCommand,
  ConfigShowCommand,
  DbMigrateCommand,
  ...pluginCommandClasses,
  LoginCommand,
  TokenCreateCommand,
  TokenListCommand,
  TokenRevokeCommand,
  AuditListCommand,
  AuditPruneCommand,
  ...siteCommands,
  ...machineCommands,
  ...imageCommands,
  ...(networkCommands as (typeof ServerCommand)[]),
  ...workflowCommands,
  AgentRunCommand,
  ArtifactsBuildInstallerCommand,
  ArtifactsBuildImageCommand,
  ...labCommands,
];

import { SiteCreateCommand } from './create.ts';
import { SiteListCommand } from './list.ts';
import { SiteShowCommand } from './show.ts';
import { SiteDeleteCommand } from './delete.ts';
import { SiteJoinTokenCommand } from './join-token.ts';
import { SiteSyncCommand } from './sync.ts';
import { SiteDiscoveredCommand } from './discovered.ts';
import { SiteLeasesCommand } from './leases.ts';

export const siteCommands = [
  SiteCreateCommand,
  SiteListCommand,
  SiteShowCommand,
  SiteDeleteCommand,
  SiteJoinTokenCommand,
  SiteSyncCommand,
  SiteDiscoveredCommand,
  SiteLeasesCommand,
];

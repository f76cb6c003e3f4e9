import { ImageListCommand } from './list.ts';
import { ImageImportCommand } from './import.ts';
import { ImageRemoveCommand } from './remove.ts';

export const imageCommands = [ImageListCommand, ImageImportCommand, ImageRemoveCommand];

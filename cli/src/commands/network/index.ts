/** `sprout network …` and `sprout ip …` commands. */
export const networkCommands: unknown[] = [];

import type { Command } from 'commander';

// Placeholder until this command group lands; registers nothing yet.
export function registerDlqCommands(_program: Command): void {}

import type { Command } from 'commander';

// Placeholder until this command group lands; registers nothing yet.
export function registerUpCommands(_program: Command): void {}

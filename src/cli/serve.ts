import type { Command } from 'commander';

// Placeholder until this command group lands; registers nothing yet.
export function registerServeCommand(_program: Command): void {}

import type { Command } from 'commander';

// Placeholder until this command group lands; registers nothing yet.
export function registerWorkerCommand(_program: Command): void {}

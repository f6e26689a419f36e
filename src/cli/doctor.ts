import type { Command } from 'commander';

// Placeholder until this command group lands; registers nothing yet.
export function registerDoctorCommand(_program: Command): void {}

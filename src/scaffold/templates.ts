/**
 * The starter project `warren init` writes: one job type, one consumer and
 * its worker, a script that enqueues from code, and the generated payload
 * types both of them import. Kept small on purpose: it is meant to be read
 * in a minute and then edited.
 */

export const TOPOLOGY_FILE = 'topology.yaml';
export const TYPES_FILE = 'src/jobs.ts';
export const CONSUMER = 'welcome-email';

export const topologyYaml = `# yaml-language-server: $schema=node_modules/warren/schema/topology.schema.json
#
# What warren declares on RabbitMQ (\`npm run topology:apply\`) and what it
# accepts: one job type, with the JSON Schema of its payload (the single
# definition of it: \`npm run types\` turns it into TypeScript types), and one
# consumer with its retry tiers and dead-letter queue.
version: 1

exchanges:
  app:
    type: topic

jobs:
  user.signed-up:
    exchange: app
    routingKey: user.signed-up
    description: A user created an account.
    schema:
      type: object
      additionalProperties: false
      required: [userId, email]
      properties:
        userId: { type: string, minLength: 1, maxLength: 64 }
        email: { type: string, format: email }
        name: { type: string, maxLength: 200 }

consumers:
  # Queue ${CONSUMER}, retry tiers ${CONSUMER}.retry.5s|1m|10m, dead letters in ${CONSUMER}.dlq.
  ${CONSUMER}:
    source: { exchange: app, pattern: user.signed-up }
    prefetch: 10
    retry: { delays: [5s, 1m, 10m] }
`;

export const workerTs = `import { defineWorker } from 'warren';
import type { ConsumerPayloads } from '../src/jobs.js';

/**
 * Consumes what the topology routes to "${CONSUMER}". The payload was
 * checked against the job's JSON Schema before this runs, and its type is
 * generated from that same schema (\`npm run types\`).
 */
export default defineWorker<ConsumerPayloads['${CONSUMER}']>({
  consumer: '${CONSUMER}',
  async handle(user, ctx) {
    // Your effect goes here. Throwing retries the job (5 s, 1 min, 10 min),
    // then moves it to ${CONSUMER}.dlq; a redelivered job that already
    // succeeded is skipped (the job id is the idempotency key).
    ctx.logger.info({ userId: user.userId, email: user.email }, 'welcome email sent');
  },
});
`;

export const enqueueTs = `import { existsSync } from 'node:fs';
import { createJobClient } from 'warren';
import type { JobTypes } from './jobs.js';

// Read .env as the warren CLI does (variables already set win).
if (existsSync('.env')) process.loadEnvFile('.env');

// Resolves once RabbitMQ confirmed the job as persisted and routed.
const jobs = await createJobClient<JobTypes>({ topology: '${TOPOLOGY_FILE}' });
try {
  const userId = process.argv[2] ?? \`user-\${Date.now()}\`;
  const job = await jobs.enqueue(
    'user.signed-up',
    { userId, email: \`\${userId}@example.com\` },
    // The same key twice is the same job: workers apply it once.
    { idempotencyKey: \`signed-up-\${userId}\` },
  );
  console.log(\`enqueued \${job.jobType} \${job.id}\`);
} finally {
  await jobs.close();
}
`;

export const envExample = `# Copy to .env: the warren CLI (and src/enqueue.ts) read it; variables already
# set in the environment win. The defaults below are a local RabbitMQ.

# Comma-separated for a cluster.
AMQP_URL=amqp://guest:guest@127.0.0.1:5672
RABBITMQ_MANAGEMENT_URL=http://guest:guest@127.0.0.1:15672

# \`warren serve\` refuses to start without tokens: token:scope pairs, scope enqueue or admin.
# WARREN_API_TOKENS=change-me-enqueue:enqueue,change-me-admin:admin

# Idempotency stores other than the in-memory default.
# REDIS_URL=redis://127.0.0.1:6379
# DATABASE_URL=postgres://postgres@127.0.0.1:5432/app

LOG_LEVEL=info
`;

export const tsconfigJson = `${JSON.stringify(
  {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      verbatimModuleSyntax: true,
      types: ['node'],
    },
    include: ['src', 'workers'],
  },
  null,
  2,
)}\n`;

export const gitignore = `node_modules/
.env
`;

/** npm scripts the scaffold adds (an existing script of the same name is kept). */
export const scripts: Readonly<Record<string, string>> = {
  types: `warren types ${TOPOLOGY_FILE} --out ${TYPES_FILE}`,
  typecheck: 'tsc',
  'topology:apply': `warren topology apply ${TOPOLOGY_FILE}`,
  worker: `warren worker ${CONSUMER} --topology ${TOPOLOGY_FILE}`,
  enqueue: 'tsx src/enqueue.ts',
  serve: `warren serve --topology ${TOPOLOGY_FILE}`,
  dev: `warren up --topology ${TOPOLOGY_FILE}`,
};

/** What the scripts need, with the versions warren is built and tested with. */
export function dependencies(warrenVersion: string): { dependencies: Record<string, string>; devDependencies: Record<string, string> } {
  return {
    dependencies: { warren: `^${warrenVersion}` },
    devDependencies: { '@types/node': '^20.19.0', tsx: '^4.20.0', typescript: '^5.9.0' },
  };
}

import { defineConfig } from 'vitest/config';

// Four groups, run in order: pure unit tests; integration tests, each in a
// vhost of its own on the shared broker; then the tests that stop brokers,
// kill nodes or raise alarms, each on a private RabbitMQ node (or Redis, or
// PostgreSQL) of its own so they never disturb anything else; last the two
// chaos runs, one at a time because each keeps both cores busy.
//
// Most integration and disruptive test time is spent waiting on brokers,
// child processes and timers, not on CPU, so those groups run more files at
// once than the machine has cores.
const CHAOS = ['test/disruptive/chaos-ci.test.ts', 'test/disruptive/chaos-cluster.test.ts'];

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'], maxWorkers: 3, sequence: { groupOrder: 1 } },
      },
      {
        // The console in headless Chromium (Debian's package), against a real producer, broker and workers,
        // alongside the integration files (vitest wants one maxWorkers per group; there is one browser file).
        extends: true,
        test: { name: 'browser', include: ['test/browser/**/*.test.ts'], maxWorkers: 3, sequence: { groupOrder: 1 }, testTimeout: 120_000 },
      },
      {
        extends: true,
        test: {
          name: 'disruptive',
          include: ['test/disruptive/**/*.test.ts'],
          exclude: CHAOS,
          maxWorkers: 2,
          sequence: { groupOrder: 2 },
          testTimeout: 180_000,
        },
      },
      {
        extends: true,
        test: { name: 'chaos', include: CHAOS, fileParallelism: false, sequence: { groupOrder: 3 }, testTimeout: 180_000 },
      },
    ],
  },
});

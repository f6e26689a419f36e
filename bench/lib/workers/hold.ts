import { z } from 'zod';
import { defineWorker } from '../../../src/worker/index.ts';
import { reportCount } from './report.ts';

/** bench/scaling.ts memory figure: holds every delivery unacked (its handler waits) until the process is killed. */
const count = reportCount('held');

export default defineWorker({
  consumer: 'bench',
  schema: z.object({ key: z.string(), sentAt: z.number(), note: z.string() }),
  timeoutMs: 600_000,
  handle: (_job, ctx) =>
    new Promise<void>((resolve) => {
      count.add();
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    }),
});

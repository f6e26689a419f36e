import { z } from 'zod';
import { defineWorker } from '../../../src/worker/index.ts';
import { reportCount } from './report.ts';

/** bench/scaling.ts: a no-op handler on the 4-shard consumer; reports its count on stdout. */
const count = reportCount('handled');

export default defineWorker({
  consumer: 'bench-sharded',
  schema: z.object({ key: z.string(), sentAt: z.number(), note: z.string() }),
  handle: () => {
    count.add();
  },
});

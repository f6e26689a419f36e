import { defineWorker, PostgresIdempotencyStore } from '../src/index.ts';
import type { ConsumerPayloads } from './_jobs.ts';

/**
 * Effect-once loyalty ledger: one point per whole unit of the order total,
 * credited exactly once per order. The ledger row is written through
 * `ctx.tx`, the PostgreSQL transaction that also records the job id, so the
 * credit and the dedup record commit together — even if the worker dies
 * between commit and ack, the redelivery finds the job done.
 * Needs DATABASE_URL. Tables: `warren_idempotency` and `loyalty_ledger`.
 */
const LEDGER = 'loyalty_ledger';
let ledgerReady = false;

export default defineWorker<ConsumerPayloads['loyalty']>({
  consumer: 'loyalty',
  timeoutMs: 10_000,
  idempotency: () => {
    const url = process.env.DATABASE_URL;
    if (!url) throw new Error('the loyalty worker needs DATABASE_URL (PostgreSQL)');
    return new PostgresIdempotencyStore({ url });
  },
  handle: async (order, ctx) => {
    if (!ctx.tx) throw new Error('the loyalty worker needs the PostgreSQL idempotency store');
    if (!ledgerReady) {
      await ctx.tx.query(
        `CREATE TABLE IF NOT EXISTS ${LEDGER} (order_id text PRIMARY KEY, customer_id text NOT NULL, points integer NOT NULL, credited_at timestamptz NOT NULL DEFAULT now())`,
      );
      ledgerReady = true;
    }
    const points = Math.floor(order.total);
    await ctx.tx.query(`INSERT INTO ${LEDGER} (order_id, customer_id, points) VALUES ($1, $2, $3)`, [order.orderId, order.customerId, points]);
    ctx.logger.debug({ orderId: order.orderId, points }, 'points credited');
  },
});

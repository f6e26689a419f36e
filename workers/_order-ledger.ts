import type { BatchContext, EventRecord } from '../src/index.ts';
import type { OrderCancelled, OrderCreated } from './_jobs.ts';

/**
 * The effects of the order-log stream groups (workers/order-log.*.ts): one
 * row per (group, event) in `order_log_ledger`, written through `ctx.tx`,
 * so it commits in the transaction that moves the group's offset. Applied
 * again (a replay after `warren stream reset`), the row's `applications`
 * goes up: that is how `warren demo` sees exactly once, and what a replay
 * re-applied. `first_seq`/`last_seq` (one sequence for every group) record
 * the order of application, for the demo's per-key order check.
 */
export type OrderEvent = OrderCreated | OrderCancelled;

export const LEDGER_TABLE = 'order_log_ledger';
const SEQUENCE = `${LEDGER_TABLE}_seq`;

/** Set once the table is seen committed; until then each batch checks (a transaction that created it may have rolled back). */
let ready = false;

async function ensureLedger(ctx: BatchContext): Promise<void> {
  if (ready) return;
  const found = await ctx.tx.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [LEDGER_TABLE]);
  if (found.rows[0]?.exists === true) {
    ready = true;
    return;
  }
  // Five groups start at once: concurrent CREATE … IF NOT EXISTS can still collide on the catalog.
  await ctx.tx.query("SELECT pg_advisory_xact_lock(hashtext('warren order_log_ledger'))");
  await ctx.tx.query(`CREATE SEQUENCE IF NOT EXISTS ${SEQUENCE}`);
  await ctx.tx.query(`CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (
    grp text NOT NULL,
    event_id text NOT NULL,
    order_id text NOT NULL,
    event_type text NOT NULL,
    partition integer NOT NULL,
    record_offset bigint NOT NULL,
    effect text NOT NULL,
    applications integer NOT NULL DEFAULT 1,
    first_seq bigint NOT NULL,
    last_seq bigint NOT NULL,
    PRIMARY KEY (grp, event_id))`);
}

/** Writes one ledger row per record (its effect described by `effectOf`), in record order. */
export async function applyToLedger(records: ReadonlyArray<EventRecord<OrderEvent>>, ctx: BatchContext, effectOf: (event: OrderEvent, type: string) => string): Promise<void> {
  if (records.length === 0) return;
  await ensureLedger(ctx);
  const type = (record: EventRecord<OrderEvent>) => record.type ?? ('items' in record.payload ? 'order.created' : 'order.cancelled');
  await ctx.tx.query(
    `INSERT INTO ${LEDGER_TABLE} (grp, event_id, order_id, event_type, partition, record_offset, effect, first_seq, last_seq)
     SELECT $1, e.id, e.order_id, e.type, $2, e.off, e.effect, e.n, e.n
     FROM (SELECT u.*, nextval('${SEQUENCE}') AS n
           FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[]) WITH ORDINALITY AS u(id, order_id, type, off, effect, ord)
           ORDER BY u.ord) e
     ON CONFLICT (grp, event_id) DO UPDATE
       SET applications = ${LEDGER_TABLE}.applications + 1, last_seq = EXCLUDED.last_seq, effect = EXCLUDED.effect`,
    [
      ctx.group,
      ctx.partition,
      records.map((r) => r.id ?? `${r.stream}:${r.partition}:${r.offset}`),
      records.map((r) => r.payload.orderId),
      records.map(type),
      records.map((r) => r.offset),
      records.map((r) => effectOf(r.payload, type(r))),
    ],
  );
}

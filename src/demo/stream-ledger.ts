import pg from 'pg';
import type { LedgerRow } from './stream-verify.ts';

/**
 * The stream demo's rows in PostgreSQL: the order-log groups' ledger
 * (`order_log_ledger`, written by workers/_order-ledger.ts; this run's rows
 * are those of its order ids) and the group tables the run kept under a
 * table prefix of its own, so it never shares offsets with another run.
 */
const LEDGER = 'order_log_ledger';

export class StreamLedger {
  private readonly pool: pg.Pool;

  constructor(databaseUrl: string, private readonly orderIdPrefix: string) {
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: 2, connectionTimeoutMillis: 5_000 });
    this.pool.on('error', () => undefined);
  }

  /** Rows applied per group (none before the first batch created the table). */
  async counts(): Promise<Map<string, { events: number; applications: number }>> {
    if (!(await this.exists())) return new Map();
    const result = await this.pool.query<{ grp: string; events: string; applications: string }>(
      `SELECT grp, count(*) AS events, sum(applications) AS applications FROM ${LEDGER} WHERE order_id LIKE $1 GROUP BY grp`,
      [`${this.orderIdPrefix}-%`],
    );
    return new Map(result.rows.map((r) => [r.grp, { events: Number(r.events), applications: Number(r.applications) }]));
  }

  async rows(group: string): Promise<LedgerRow[]> {
    if (!(await this.exists())) return [];
    const result = await this.pool.query<{
      event_id: string;
      order_id: string;
      event_type: string;
      partition: number;
      record_offset: string;
      applications: number;
      first_seq: string;
      last_seq: string;
    }>(
      `SELECT event_id, order_id, event_type, partition, record_offset, applications, first_seq, last_seq FROM ${LEDGER} WHERE grp = $1 AND order_id LIKE $2`,
      [group, `${this.orderIdPrefix}-%`],
    );
    return result.rows.map((r) => ({
      group,
      eventId: r.event_id,
      orderId: r.order_id,
      eventType: r.event_type,
      partition: r.partition,
      offset: Number(r.record_offset),
      applications: r.applications,
      firstSeq: Number(r.first_seq),
      lastSeq: Number(r.last_seq),
    }));
  }

  /** This run's ledger rows and its group tables (`<tablePrefix>stream_members`, `<tablePrefix>stream_offsets`). */
  async remove(tablePrefix: string): Promise<number> {
    let removed = 0;
    if (await this.exists()) removed = (await this.pool.query(`DELETE FROM ${LEDGER} WHERE order_id LIKE $1`, [`${this.orderIdPrefix}-%`])).rowCount ?? 0;
    await this.pool.query(`DROP TABLE IF EXISTS ${tablePrefix}stream_members, ${tablePrefix}stream_offsets`);
    return removed;
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }

  private async exists(): Promise<boolean> {
    const result = await this.pool.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [LEDGER]);
    return result.rows[0]?.exists === true;
  }
}

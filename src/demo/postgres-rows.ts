import pg from 'pg';

/**
 * The rows the demo's loyalty worker wrote to PostgreSQL (its ledger and its
 * idempotency records, see workers/loyalty.ts), removed after a run so a
 * demo leaves nothing behind there either. Only this run's rows: order ids
 * carry the run id, idempotency keys are `loyalty:<job id>`.
 */
const LEDGER = 'loyalty_ledger';
const IDEMPOTENCY = 'warren_idempotency';

export async function removeDemoRows(databaseUrl: string, orderIdPrefix: string, jobIds: readonly string[]): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    let removed = 0;
    if (await tableExists(client, LEDGER)) {
      removed += (await client.query(`DELETE FROM ${LEDGER} WHERE order_id LIKE $1`, [`${orderIdPrefix}-%`])).rowCount ?? 0;
    }
    if (await tableExists(client, IDEMPOTENCY)) {
      const keys = jobIds.map((id) => `loyalty:${id}`);
      removed += (await client.query(`DELETE FROM ${IDEMPOTENCY} WHERE key = ANY($1::text[])`, [keys])).rowCount ?? 0;
    }
    return removed;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function tableExists(client: pg.Client, table: string): Promise<boolean> {
  const result = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [table]);
  return result.rows[0]?.exists === true;
}

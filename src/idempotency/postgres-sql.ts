/**
 * The SQL of the PostgreSQL idempotency store, built once per table: pure,
 * no I/O. The table name is validated here and always used quoted, so it can
 * never carry SQL of its own.
 */

/** `table` or `schema.table`; lowercase so that it means the same quoted or not. */
const TABLE_NAME = /^[a-z_][a-z0-9_]{0,39}(\.[a-z_][a-z0-9_]{0,39})?$/;

export const DEFAULT_TABLE = 'warren_idempotency';

export interface IdempotencySql {
  /** Takes no lock on the table: a CREATE INDEX IF NOT EXISTS would wait for (and block) every open claim. */
  readonly tableExists: string;
  /** Run inside one transaction; the advisory lock keeps concurrent starts from racing on CREATE. */
  readonly createTable: readonly string[];
  /** $1 lock timeout, $2 idle-in-transaction timeout (e.g. '100ms'); returns the lock timeout in force before. */
  readonly setTimeouts: string;
  /** $1 the lock timeout to put back. */
  readonly restoreLockTimeout: string;
  /** $1 job id; inserts one row when the key is new, none when it is already recorded. */
  readonly insertKey: string;
  /** $1 job ids (text[]); returns the ids inserted, i.e. not recorded before. */
  readonly insertKeys: string;
  /** $1 job ids (text[]) to forget again inside the claiming transaction. */
  readonly deleteKeys: string;
  /** $1 age in milliseconds. */
  readonly purgeOlderThan: string;
  /** The keys of the jobs waiting in a commit group, claimed in one round trip (see `GroupClaimSql`); returns the keys inserted. */
  groupClaim(options: GroupClaimSql): string;
  /** Gives one job of a commit group up: back to its savepoint if it made one, and its key deleted again. */
  groupForget(options: { savepoint: string | undefined; keyLiteral: string }): string;
}

/**
 * The jobs waiting in a commit group are claimed with one simple-protocol
 * query (several statements, so no parameters: the keys come as literals
 * escaped by the driver): BEGIN for the group's first claim, a savepoint, the
 * insert under the short lock timeout, and the usual lock timeout put back
 * for the handlers' statements. If the insert fails, the statements after it
 * do not run and `ROLLBACK TO SAVEPOINT` undoes the rest.
 */
export interface GroupClaimSql {
  begin: boolean;
  /** A name made here by the store (never user input). */
  savepoint: string;
  /** The job ids as escaped SQL literals. */
  keyLiterals: readonly string[];
  lockTimeoutMs: number;
  /** The server ends a transaction idle this long (a frozen worker): the lease on the server side. */
  leaseMs: number;
}

export function validateTableName(name: string): string {
  if (!TABLE_NAME.test(name)) {
    throw new RangeError(
      `invalid idempotency table name ${JSON.stringify(name)}: use "table" or "schema.table", each part lowercase letters, digits and _ (at most 40), not starting with a digit`,
    );
  }
  return name;
}

export function idempotencySql(table: string): IdempotencySql {
  const parts = validateTableName(table).split('.');
  const quoted = parts.map((part) => `"${part}"`).join('.');
  const indexName = `"${parts[parts.length - 1]}_recorded_at_idx"`;
  return {
    tableExists: `SELECT to_regclass(${literal(quoted)}) IS NOT NULL AS exists`,
    createTable: [
      `SELECT pg_advisory_xact_lock(hashtext('warren-idempotency:' || ${literal(table)}))`,
      `CREATE TABLE IF NOT EXISTS ${quoted} (key text PRIMARY KEY, recorded_at timestamptz NOT NULL DEFAULT now())`,
      `CREATE INDEX IF NOT EXISTS ${indexName} ON ${quoted} (recorded_at)`,
    ],
    setTimeouts:
      "SELECT current_setting('lock_timeout') AS previous, set_config('lock_timeout', $1, true), set_config('idle_in_transaction_session_timeout', $2, true)",
    restoreLockTimeout: "SELECT set_config('lock_timeout', $1, true)",
    insertKey: `INSERT INTO ${quoted} (key) VALUES ($1) ON CONFLICT (key) DO NOTHING`,
    insertKeys: `INSERT INTO ${quoted} (key) SELECT unnest($1::text[]) ON CONFLICT (key) DO NOTHING RETURNING key`,
    deleteKeys: `DELETE FROM ${quoted} WHERE key = ANY($1::text[])`,
    purgeOlderThan: `DELETE FROM ${quoted} WHERE recorded_at < now() - make_interval(secs => $1::double precision / 1000)`,
    groupClaim: ({ begin, savepoint, keyLiterals, lockTimeoutMs, leaseMs }) =>
      [
        ...(begin ? ['BEGIN'] : []),
        `SAVEPOINT ${savepoint}`,
        // The lock timeout in force is kept in a transaction-local custom setting, to put it back in the same round trip.
        `SELECT set_config('warren.lock_timeout', current_setting('lock_timeout'), true), set_config('lock_timeout', '${integer(lockTimeoutMs)}ms', true), set_config('idle_in_transaction_session_timeout', '${integer(leaseMs)}ms', true)`,
        `INSERT INTO ${quoted} (key) SELECT unnest(ARRAY[${keyLiterals.join(', ')}]::text[]) ON CONFLICT (key) DO NOTHING RETURNING key`,
        "SELECT set_config('lock_timeout', current_setting('warren.lock_timeout'), true)",
      ].join('; '),
    groupForget: ({ savepoint, keyLiteral }) =>
      [...(savepoint === undefined ? [] : [`ROLLBACK TO SAVEPOINT ${savepoint}`]), `DELETE FROM ${quoted} WHERE key = ${keyLiteral}`].join('; '),
  };
}

function integer(value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`expected a non-negative integer, got ${value}`);
  return value;
}

/** Only ever called on a validated table name (possibly in double quotes), which has no single quote in it. */
function literal(value: string): string {
  return `'${value}'`;
}

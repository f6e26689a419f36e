import type pg from 'pg';

export interface CheckedOutClient {
  client: pg.PoolClient;
  /** Back to the pool, or destroyed when asked to or when the connection was lost while out. */
  release: (destroy?: boolean) => void;
}

/**
 * A pool client with an 'error' listener for as long as it is checked out.
 * pg-pool listens only to idle clients: a session the server ends under a
 * checked-out client (a restart, an `idle_in_transaction_session_timeout`
 * firing while the process was paused) makes the client emit 'error', which
 * without a listener crashes the process. With one, the query in progress
 * (or the next) fails with the error and the caller handles it like any
 * other failed query; the lost client is destroyed, not pooled again.
 */
export async function checkoutClient(pool: pg.Pool, onLost?: (error: Error) => void): Promise<CheckedOutClient> {
  const client = await pool.connect();
  let lost = false;
  const onError = (error: Error): void => {
    lost = true;
    onLost?.(error);
  };
  client.on('error', onError);
  return {
    client,
    release: (destroy = false) => {
      client.off('error', onError);
      client.release(destroy || lost);
    },
  };
}

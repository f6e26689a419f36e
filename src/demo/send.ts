/**
 * Sends payloads to the producer's batch route, a few batches at a time.
 * Items the producer answers 503 for (in-flight limit, broker blocked) are
 * sent again after its Retry-After; any other refusal is final and reported.
 * A whole batch refused for a reason that holds for every batch (401, 403,
 * 413, 415…) stops the sending at once: the rest would be refused the same.
 */
export interface SendResult {
  /** Job id per payload index; `undefined` when refused. */
  ids: Array<string | undefined>;
  refused: Array<{ index: number; status: number; message: string }>;
}

export interface SendOptions {
  /** Bearer token for the producer. */
  token?: string;
  batchSize?: number;
  concurrency?: number;
  onProgress?: (sent: number) => void;
}

interface BatchResponse {
  results?: Array<{ index: number; status: number; id?: string; error?: { message?: string } }>;
  error?: { message?: string };
}

const MAX_ROUNDS = 20;

export async function sendJobs(producerUrl: string, jobType: string, payloads: readonly unknown[], options: SendOptions = {}): Promise<SendResult> {
  const batchSize = options.batchSize ?? 200;
  const ids: Array<string | undefined> = payloads.map(() => undefined);
  const refused: SendResult['refused'] = [];
  let pending = payloads.map((_, index) => index);
  let sent = 0;
  // Set from inside the batch lanes; read through a function, which TypeScript does not narrow.
  let halted: { status: number; message: string } | undefined;
  const haltReason = () => halted;
  for (let round = 0; pending.length > 0 && round < MAX_ROUNDS && haltReason() === undefined; round++) {
    const retry: number[] = [];
    const batches = chunk(pending, batchSize);
    const unsent = new Set(pending);
    await forEachLimited(batches, options.concurrency ?? 4, async (indexes) => {
      if (haltReason() !== undefined) return;
      indexes.forEach((index) => unsent.delete(index));
      const outcome = await postBatch(producerUrl, jobType, indexes.map((i) => payloads[i]), options.token);
      if (outcome.results === undefined && outcome.status >= 400 && outcome.status < 500) {
        halted ??= { status: outcome.status, message: outcome.error?.message ?? 'refused' };
      }
      indexes.forEach((payloadIndex, position) => {
        const result = outcome.results?.[position];
        if (result?.status === 202 && result.id) {
          ids[payloadIndex] = result.id;
          sent++;
        } else if (result === undefined ? outcome.status === 503 || outcome.status === 0 : result.status === 503) {
          retry.push(payloadIndex);
        } else {
          refused.push({ index: payloadIndex, status: result?.status ?? outcome.status, message: result?.error?.message ?? outcome.error?.message ?? 'refused' });
        }
      });
      options.onProgress?.(sent);
      if (outcome.retryAfterMs > 0) await new Promise((resolve) => setTimeout(resolve, outcome.retryAfterMs));
    });
    pending = retry;
    const reason = haltReason();
    if (reason !== undefined) {
      for (const index of [...unsent, ...retry]) refused.push({ index, status: reason.status, message: `not sent: ${reason.message}` });
      pending = [];
    }
  }
  for (const index of pending) refused.push({ index, status: 503, message: `still refused after ${MAX_ROUNDS} rounds` });
  return { ids, refused };
}

async function postBatch(
  producerUrl: string,
  jobType: string,
  items: unknown[],
  token: string | undefined,
): Promise<BatchResponse & { status: number; retryAfterMs: number }> {
  try {
    const response = await fetch(`${producerUrl}/v1/jobs/${encodeURIComponent(jobType)}/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token !== undefined && { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(items),
      signal: AbortSignal.timeout(60_000),
    });
    const body = (await response.json()) as BatchResponse;
    // A whole-batch 503 has no per-item results: every item is retried.
    const retryAfterMs = response.status === 503 ? Number(response.headers.get('retry-after') ?? 1) * 1000 : 0;
    return { ...body, status: response.status, retryAfterMs };
  } catch {
    // No answer (0): the producer is starting or busy; try again.
    return { status: 0, retryAfterMs: 1000 };
  }
}

function chunk<T>(values: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < values.length; i += size) chunks.push(values.slice(i, i + size));
  return chunks;
}

async function forEachLimited<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await run(item);
    }
  });
  await Promise.all(lanes);
}

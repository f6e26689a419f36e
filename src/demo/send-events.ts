/**
 * Publishes events through the producer, one `POST /v1/events/{type}` each
 * (202 = the record is stored in its partition), a few at a time, in the
 * order given within each lane. The `Idempotency-Key` is the event's id, so
 * the ledger rows name the events the demo sent. A 503 (or no answer) is
 * sent again after its Retry-After; any other refusal is final and reported.
 */
export interface EventToSend {
  id: string;
  type: string;
  payload: unknown;
}

export interface SendEventsResult {
  accepted: string[];
  refused: Array<{ id: string; status: number; message: string }>;
}

const MAX_TRIES = 20;

export async function sendEvents(
  producerUrl: string,
  events: readonly EventToSend[],
  options: { token?: string; concurrency?: number; onProgress?: (accepted: number) => void } = {},
): Promise<SendEventsResult> {
  const accepted: string[] = [];
  const refused: SendEventsResult['refused'] = [];
  let next = 0;
  const lane = async () => {
    while (next < events.length) {
      const event = events[next++] as EventToSend;
      const outcome = await sendOne(producerUrl, event, options.token);
      if (outcome.status === 202) accepted.push(event.id);
      else refused.push({ id: event.id, status: outcome.status, message: outcome.message });
      options.onProgress?.(accepted.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 16, events.length) }, lane));
  return { accepted, refused };
}

async function sendOne(producerUrl: string, event: EventToSend, token: string | undefined): Promise<{ status: number; message: string }> {
  let last = { status: 0, message: 'no answer' };
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    try {
      const response = await fetch(`${producerUrl}/v1/events/${encodeURIComponent(event.type)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': event.id, ...(token !== undefined && { authorization: `Bearer ${token}` }) },
        body: JSON.stringify(event.payload),
        signal: AbortSignal.timeout(30_000),
      });
      const body = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
      if (response.status !== 503) return { status: response.status, message: body.error?.message ?? response.statusText };
      last = { status: 503, message: body.error?.message ?? 'unavailable' };
      await new Promise((resolve) => setTimeout(resolve, Number(response.headers.get('retry-after') ?? 1) * 1000));
    } catch (error) {
      last = { status: 0, message: error instanceof Error ? error.message : String(error) };
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
  return last;
}

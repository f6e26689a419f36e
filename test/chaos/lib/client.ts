import { Agent, request } from 'node:http';
import type { PlannedJob } from './orders.ts';
import type { Attempt } from './timeline.ts';

/**
 * The HTTP client of the chaos run. Retry policy: a non-202 answer that may
 * be temporary (5xx, or no answer: connection refused/reset while the
 * producer is down) is retried with the SAME Idempotency-Key up to 8 times,
 * 250 ms doubling to at most 2 s between tries (about 12 s in all, longer
 * than a broker restart). A 4xx is final. Every job ends with a known
 * outcome: accepted (202) or refused (its last status, 0 = no answer).
 * Every try is logged with its times, so the run can say how long the
 * producer answered 503 or not at all. Requests carry the bearer token the
 * producer was started with.
 */
export interface Outcome {
  job: PlannedJob;
  accepted: boolean;
  /** Last HTTP status; 0 when the last try got no answer. */
  status: number;
  tries: number;
}

const MAX_TRIES = 12;

export class ChaosClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  readonly outcomes = new Map<string, Outcome>();
  readonly attempts: Attempt[] = [];
  inFlight = 0;
  retries = 0;

  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async post(job: PlannedJob): Promise<Outcome> {
    this.inFlight++;
    try {
      let status = 0;
      for (let tries = 1; ; tries++) {
        status = await this.once(job);
        const final = status === 202 || (status >= 400 && status < 500) || tries === MAX_TRIES;
        if (final) {
          const outcome = { job, accepted: status === 202, status, tries };
          this.outcomes.set(job.key, outcome);
          return outcome;
        }
        this.retries++;
        await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 250 * 2 ** (tries - 1))));
      }
    } finally {
      this.inFlight--;
    }
  }

  close(): void {
    this.agent.destroy();
  }

  private async once(job: PlannedJob): Promise<number> {
    const sentAt = Date.now();
    const status = await this.send(job);
    this.attempts.push({ sentAt, answeredAt: Date.now(), status });
    return status;
  }

  private send(job: PlannedJob): Promise<number> {
    const body = Buffer.from(job.body);
    return new Promise((resolve) => {
      const req = request(
        `${this.baseUrl}/v1/jobs/${job.jobType}`,
        {
          method: 'POST',
          agent: this.agent,
          timeout: 15_000,
          headers: {
            'content-type': 'application/json',
            'content-length': body.length,
            'idempotency-key': job.key,
            authorization: `Bearer ${this.token}`,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', () => resolve(0));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(0));
      req.end(body);
    });
  }
}

/**
 * Pure: the delay levels — warren's plugin-free delayed delivery — and the
 * path one delay takes through them. No I/O; the compiler declares what
 * `delayLevelNames` names, the job sender publishes where `delayPath` says.
 *
 * The design is NServiceBus's binary delay levels (see the README, "Jobs
 * for later"): level `n` is a queue whose fixed TTL is 2^n ticks, so a delay
 * of `d` ticks is the sum of the levels of the bits set in `d`. Every queue
 * has one TTL, so its messages expire in arrival order and no delay ever
 * waits behind a longer one. The delay's bits are written into the routing
 * key (`b28.b27.….b0.<job type>`); each level's topic exchange sends a
 * message with its bit set into the level's queue and one without straight
 * on to the next level's exchange, and each queue dead-letters into the
 * next level's exchange when the TTL is up.
 */

/** One tick: the unit of a delay. Delays round *up* to it, so a job is never early. */
export const DELAY_TICK_MS = 100;
/** Levels 0 … 28: 2^29 − 1 ticks ≈ 621 days at 100 ms a tick. */
export const DELAY_LEVELS = 29;
export const MAX_DELAY_TICKS = 2 ** DELAY_LEVELS - 1;
export const MAX_DELAY_MS = MAX_DELAY_TICKS * DELAY_TICK_MS;

/** Names of the delay infrastructure: part of the public contract, like the consumers' derived names. */
export const delayLevelNames = {
  /** Level `n`'s topic exchange and its queue (same name, as in NServiceBus). */
  level: (level: number) => `warren.delay.level.${String(level).padStart(2, '0')}`,
  /** Where a message goes once every level is behind it: routes on the job type at the end of the key. */
  deliver: 'warren.delay.deliver',
  /**
   * A job type's landing queue: TTL 0, dead-lettering into the job type's
   * exchange with its routing key — the one hop that gives the job back its
   * own routing key, so it is routed by the live bindings at due time.
   */
  landing: (jobType: string) => `warren.delay.land.${jobType}`,
} as const;

/** Bytes the delay bits take in a routing key (`0.` per level); what is left of 255 is for the job type. */
export const DELAY_KEY_PREFIX_BYTES = 2 * DELAY_LEVELS;
export const MAX_DELAYED_JOB_TYPE_BYTES = 255 - DELAY_KEY_PREFIX_BYTES;

/** The TTL of level `n`'s queue. */
export function levelTtlMs(level: number): number {
  return 2 ** level * DELAY_TICK_MS;
}

/** Ticks for a delay in ms: rounded up (never early), 0 for a delay ≤ 0. */
export function delayTicks(delayMs: number): number {
  if (!(delayMs > 0)) return 0;
  return Math.ceil(delayMs / DELAY_TICK_MS);
}

/** The routing key that carries `ticks` through the levels to `jobType`'s landing queue. */
export function delayRoutingKey(ticks: number, jobType: string): string {
  checkTicks(ticks);
  let key = '';
  for (let level = DELAY_LEVELS - 1; level >= 0; level--) key += (Math.floor(ticks / 2 ** level) % 2 === 1 ? '1' : '0') + '.';
  return key + jobType;
}

/** One queue a delayed message waits in. */
export interface DelayHop {
  level: number;
  queue: string;
  ttlMs: number;
  /** Time into the delay when the message leaves this queue. */
  leavesAtMs: number;
}

export interface DelayPath {
  /** The delay asked for. */
  requestedMs: number;
  ticks: number;
  /** What the levels add up to: `requestedMs` rounded up to a tick. */
  delayMs: number;
  /** Where to publish: the exchange of the highest level with its bit set (no hop through empty levels). */
  exchange: string;
  routingKey: string;
  /** The queues it waits in, longest first. */
  hops: DelayHop[];
  landingQueue: string;
}

/** The whole path of a delay; `RangeError` past `MAX_DELAY_MS`, or for a delay that needs no levels (≤ 0). */
export function delayPath(delayMs: number, jobType: string): DelayPath {
  const ticks = delayTicks(delayMs);
  if (ticks === 0) throw new RangeError('a delay must be > 0 ms');
  checkTicks(ticks);
  const hops: DelayHop[] = [];
  let elapsed = 0;
  for (let level = DELAY_LEVELS - 1; level >= 0; level--) {
    if (Math.floor(ticks / 2 ** level) % 2 !== 1) continue;
    elapsed += levelTtlMs(level);
    hops.push({ level, queue: delayLevelNames.level(level), ttlMs: levelTtlMs(level), leavesAtMs: elapsed });
  }
  const first = hops[0];
  if (first === undefined) throw new RangeError('a delay must be > 0 ms');
  return {
    requestedMs: delayMs,
    ticks,
    delayMs: ticks * DELAY_TICK_MS,
    exchange: delayLevelNames.level(first.level),
    routingKey: delayRoutingKey(ticks, jobType),
    hops,
    landingQueue: delayLevelNames.landing(jobType),
  };
}

/** Binding keys of level `n`'s exchange: bit `n` set → its queue, clear → the next level down. */
export function levelBindingKeys(level: number): { toQueue: string; toNext: string } {
  const skip = '*.'.repeat(DELAY_LEVELS - 1 - level);
  return { toQueue: `${skip}1.#`, toNext: `${skip}0.#` };
}

/** Binding key of a job type's landing queue on the deliver exchange: exactly the job type after all the bits. */
export function landingBindingKey(jobType: string): string {
  return `${'*.'.repeat(DELAY_LEVELS)}${jobType}`;
}

function checkTicks(ticks: number): void {
  if (!Number.isInteger(ticks) || ticks < 0 || ticks > MAX_DELAY_TICKS) {
    throw new RangeError(`a delay is at most ${MAX_DELAY_MS} ms (${Math.floor(MAX_DELAY_MS / 86_400_000)} days)`);
  }
}

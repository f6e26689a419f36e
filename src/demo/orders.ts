/**
 * Pure: the orders the demo sends, from a seed. Realistic `order.created`
 * payloads (1–4 lines from a small catalogue, totals that add up), a share
 * of them cancelled afterwards, a handful of poison orders and a slice that
 * fails once downstream. Deterministic for a given seed, so tests can
 * reason about the mix.
 */

/** A line SKU starting with this makes the inventory worker fail once (workers/inventory.ts): a transient failure that its 1 s retry tier absorbs. */
export const FLAKY_SKU_PREFIX = 'FLAKY-';

export interface OrderLine {
  sku: string;
  quantity: number;
  price: number;
}

export interface OrderCreatedPayload {
  orderId: string;
  customerId: string;
  items: OrderLine[];
  total: number;
  currency: 'EUR' | 'USD' | 'GBP';
  createdAt: string;
}

export interface OrderCancelledPayload {
  orderId: string;
  reason: string;
}

export type OrderKind = 'normal' | 'poison' | 'flaky';

export interface DemoOrder {
  kind: OrderKind;
  created: OrderCreatedPayload;
  /** Sent after every `order.created` of the run, so it never overtakes its order. */
  cancelled: OrderCancelledPayload | undefined;
}

export interface OrderMixOptions {
  /** Orders to create. */
  count: number;
  /** Prefix of every order id, unique per run (ledger rows never collide across runs). */
  runId: string;
  /** @defaultValue 5 */
  poison?: number;
  /** Share of orders whose inventory step fails once. @defaultValue 0.02 */
  flakyShare?: number;
  /** Share of orders cancelled afterwards. @defaultValue 0.1 */
  cancelShare?: number;
  /** @defaultValue 1 */
  seed?: number;
  /** @defaultValue now */
  now?: Date;
}

const CATALOGUE: ReadonlyArray<readonly [sku: string, price: number]> = [
  ['MUG-BLUE', 9.5],
  ['MUG-RED', 9.5],
  ['TEE-M-BLACK', 19.9],
  ['TEE-L-WHITE', 19.9],
  ['HOODIE-M-GREY', 49],
  ['CAP-NAVY', 14.25],
  ['SOCKS-3PK', 12],
  ['BOTTLE-750', 22.4],
  ['NOTEBOOK-A5', 6.8],
  ['BACKPACK-20L', 79],
  ['POSTER-50X70', 17.5],
  ['STICKERS-10', 3.99],
];
const CURRENCIES = ['EUR', 'USD', 'GBP'] as const;
const CANCEL_REASONS = ['customer changed their mind', 'payment method declined', 'duplicate order', 'address not deliverable'];

export function buildOrderMix(options: OrderMixOptions): DemoOrder[] {
  const random = mulberry32(options.seed ?? 1);
  const poison = Math.min(options.poison ?? 5, options.count);
  const now = (options.now ?? new Date()).getTime();
  const kinds = assignKinds(options.count, poison, options.flakyShare ?? 0.02, random);
  return kinds.map((kind, index) => {
    const created = createdOrder(`${options.runId}-${String(index + 1).padStart(6, '0')}`, kind, now - (options.count - index) * 1000, random);
    const cancel = kind === 'normal' && random() < (options.cancelShare ?? 0.1);
    const cancelled = cancel ? { orderId: created.orderId, reason: pick(CANCEL_REASONS, random) } : undefined;
    return { kind, created, cancelled };
  });
}

/** Poison and flaky orders spread over the run (not bunched at one end). */
function assignKinds(count: number, poison: number, flakyShare: number, random: () => number): OrderKind[] {
  const kinds: OrderKind[] = Array.from({ length: count }, () => 'normal');
  const flaky = Math.min(count - poison, Math.max(count > poison ? 1 : 0, Math.round(count * flakyShare)));
  const free = Array.from({ length: count }, (_, i) => i);
  for (const [kind, n] of [['poison', poison], ['flaky', flaky]] as const) {
    for (let k = 0; k < n; k++) {
      const [slot] = free.splice(Math.floor(random() * free.length), 1);
      if (slot !== undefined) kinds[slot] = kind;
    }
  }
  return kinds;
}

function createdOrder(orderId: string, kind: OrderKind, at: number, random: () => number): OrderCreatedPayload {
  const lineCount = 1 + Math.floor(random() * 4);
  const items: OrderLine[] = [];
  for (let i = 0; i < lineCount; i++) {
    const [sku, price] = pick(CATALOGUE, random);
    items.push({ sku, quantity: 1 + Math.floor(random() * 3), price });
  }
  if (kind === 'flaky' && items[0]) items[0] = { ...items[0], sku: `${FLAKY_SKU_PREFIX}${items[0].sku}` };
  const lines = roundCents(items.reduce((sum, item) => sum + item.quantity * item.price, 0));
  // Poison: valid for the HTTP schema, but the total does not match the
  // lines, which the fraud-audit worker refuses for good (NonRetryableError).
  const total = kind === 'poison' ? roundCents(lines + 100) : lines;
  return {
    orderId,
    customerId: `cust-${1 + Math.floor(random() * 500)}`,
    items,
    total,
    currency: pick(CURRENCIES, random),
    createdAt: new Date(at).toISOString(),
  };
}

function roundCents(value: number): number {
  return Math.round(value * 100) / 100;
}

function pick<T>(values: readonly T[], random: () => number): T {
  return values[Math.floor(random() * values.length)] as T;
}

/** A small seeded PRNG: the same seed gives the same run. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Where the scenario's failures show: poison orders end in this consumer's DLQ, flaky ones are retried by this one. */
export const SCENARIO = { poisonConsumer: 'fraud-audit', flakyConsumer: 'inventory' } as const;

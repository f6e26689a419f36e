/** Flags of `npm run chaos` (all optional). */
export interface ChaosOptions {
  /** Valid orders to POST (each also gets 1 in 10 cancelled). */
  orders: number;
  /** Orders per second, steady. */
  rate: number;
  /** A random worker is SIGKILLed (and restarted) this often. */
  killEveryMs: number;
  /** How long to wait for the backlog once posting is done. */
  drainTimeoutMs: number;
  /** Use AMQP_URL's broker (and restart it!) instead of a private node. */
  useEnvBroker: boolean;
  ci: boolean;
}

const FULL: ChaosOptions = { orders: 20_000, rate: 100, killEveryMs: 3_000, drainTimeoutMs: 900_000, useEnvBroker: false, ci: false };
const CI: ChaosOptions = { orders: 2_000, rate: 50, killEveryMs: 2_500, drainTimeoutMs: 100_000, useEnvBroker: false, ci: true };

export function parseChaosArgs(argv: readonly string[]): ChaosOptions {
  const ci = argv.includes('--ci');
  const options = { ...(ci ? CI : FULL), useEnvBroker: argv.includes('--use-env-broker') };
  const number = (flag: string): number | undefined => {
    const index = argv.indexOf(flag);
    if (index < 0) return undefined;
    const value = Number(argv[index + 1]);
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${flag} needs a positive integer`);
    return value;
  };
  options.orders = number('--orders') ?? options.orders;
  options.rate = number('--rate') ?? options.rate;
  return options;
}

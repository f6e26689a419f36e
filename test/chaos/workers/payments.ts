import { chaosWorker } from './_effect.ts';

/** Chaos consumer `payments` of topology/orders.yaml: one effect row per job, through ctx.tx. */
export default chaosWorker('payments', { pauseMs: 3, ordered: true });

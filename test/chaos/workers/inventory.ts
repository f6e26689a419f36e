import { chaosWorker } from './_effect.ts';

/** Chaos consumer `inventory` of topology/orders.yaml: one effect row per job, through ctx.tx. */
export default chaosWorker('inventory', { pauseMs: 2 });

import { chaosWorker } from './_effect.ts';

/** Chaos consumer `warehouse` of topology/orders.yaml: one effect row per job, through ctx.tx. */
export default chaosWorker('warehouse', { pauseMs: 5 });

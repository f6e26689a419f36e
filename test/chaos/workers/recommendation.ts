import { chaosWorker } from './_effect.ts';

/** Chaos consumer `recommendation` of topology/orders.yaml: one effect row per job, through ctx.tx. */
export default chaosWorker('recommendation', { pauseMs: 2 });

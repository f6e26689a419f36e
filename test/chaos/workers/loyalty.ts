import { chaosWorker } from './_effect.ts';

/** Chaos consumer `loyalty` of topology/orders.yaml: one effect row per job, through ctx.tx. */
export default chaosWorker('loyalty', { pauseMs: 2 });

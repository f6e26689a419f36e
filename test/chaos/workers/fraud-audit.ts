import { chaosWorker } from './_effect.ts';

/** Chaos consumer `fraud-audit` of topology/orders.yaml: one effect row per job, through ctx.tx. */
export default chaosWorker('fraud-audit', { pauseMs: 1 });

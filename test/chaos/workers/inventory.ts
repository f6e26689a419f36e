import { OrderEvent } from '../../../workers/_orders.ts';
import { chaosWorker } from './_effect.ts';

/** Chaos consumer `inventory` of topology/orders.yaml: one effect row per job, through ctx.tx. */
export default chaosWorker('inventory', OrderEvent, { pauseMs: 2 });

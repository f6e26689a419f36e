import { Router } from 'express';
import type { TopologyPlan } from '../topology/plan.ts';

export interface DlqRouterOptions {
  plan: TopologyPlan;
  amqpUrls: string[];
  managementUrl: string;
}

// Placeholder until the DLQ routes land: the producer mounts this router at
// /v1/dlq behind an admin token.
export function dlqRouter(_options: DlqRouterOptions): Router {
  return Router();
}

import { z } from 'zod';
import { TopologyFile } from './schema.ts';

/**
 * The published JSON Schema of the topology file (`schema/topology.schema.json`),
 * generated from the zod schema so the two never drift: editors autocomplete
 * and check what users type. It describes the input (durations may be
 * strings or numbers); cross-references are only checked by `validate`.
 */
export const SCHEMA_ID = 'https://github.com/warren/warren/schema/topology.schema.json';

export function topologyJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(TopologyFile, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...generated,
    $id: SCHEMA_ID,
    title: 'warren topology file',
    description: 'Exchanges, queues, jobs and consumers that `warren topology apply` declares on RabbitMQ.',
  };
}

/** The file's text exactly as committed (stable key order, trailing newline). */
export function topologyJsonSchemaText(): string {
  return `${JSON.stringify(topologyJsonSchema(), null, 2)}\n`;
}

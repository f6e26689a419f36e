// Regenerates schema/topology.schema.json from the zod schema:
//   node --import tsx src/topology/write-json-schema.ts
// (test/unit/topology-json-schema.test.ts fails when the committed file is stale.)
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { topologyJsonSchemaText } from './json-schema.ts';

const target = fileURLToPath(new URL('../../schema/topology.schema.json', import.meta.url));
writeFileSync(target, topologyJsonSchemaText());
process.stdout.write(`wrote ${target}\n`);

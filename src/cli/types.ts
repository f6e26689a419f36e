import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadTopology } from '../topology/load.ts';
import { generatePayloadTypes } from '../typegen/generate.ts';
import { CliExit, EXIT } from './exit.ts';

interface TypesFlags {
  out?: string;
  check?: boolean;
}

/**
 * `warren types <topology> [--out file] [--check]`: the TypeScript payload
 * types of every job type, from the topology's JSON Schemas. `--check`
 * writes nothing and exits 1 when the file differs (for CI).
 */
export function registerTypesCommand(program: Command): void {
  program
    .command('types')
    .description('generate TypeScript payload types of every job type (JobTypes, ConsumerPayloads) from the topology file')
    .argument('<topology>', 'topology file (YAML or JSON)')
    .option('--out <file>', 'write to this file instead of stdout')
    .option('--check', 'write nothing; exit 1 if --out is missing or out of date')
    .action(async (file: string, flags: TypesFlags) => {
      const { plan } = await loadTopology(file);
      const command = ['warren types', posix(file), ...(flags.out === undefined ? [] : ['--out', posix(flags.out)])].join(' ');
      const text = generatePayloadTypes(plan, { command });
      if (flags.out === undefined) {
        if (flags.check) throw new CliExit(EXIT.invalid, 'warren types: --check needs --out <file>');
        process.stdout.write(text);
        return;
      }
      if (flags.check) {
        const current = await readFile(flags.out, 'utf8').catch(() => undefined);
        if (current !== text) throw new CliExit(EXIT.invalid, `${flags.out} is out of date: run \`${command}\``);
        process.stdout.write(`${flags.out} is up to date\n`);
        return;
      }
      await writeFile(flags.out, text);
      process.stdout.write(`${flags.out}: ${plan.jobs.length} job type${plan.jobs.length === 1 ? '' : 's'}, ${plan.consumers.length} consumer${plan.consumers.length === 1 ? '' : 's'}\n`);
    });
}

function posix(path: string): string {
  return path.replace(/\\/g, '/');
}

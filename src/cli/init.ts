import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { packageVersion } from '../package-version.ts';
import { mergePackageJson, packageNameFor, scaffoldFiles } from '../scaffold/files.ts';
import { CliExit, EXIT } from './exit.ts';

/**
 * `warren init [dir]`: a starter project in the current (or given)
 * directory. Writes only files that do not exist yet and adds to an
 * existing package.json without changing what is there, so running it
 * twice, or in an existing project, never overwrites anything.
 */
export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('scaffold a starter project: topology, one worker, generated types, an enqueue script, .env.example, npm scripts')
    .argument('[dir]', 'where to write it', '.')
    .action(async (dir: string) => {
      const root = resolve(dir);
      const created: string[] = [];
      const kept: string[] = [];
      for (const [path, content] of scaffoldFiles()) {
        const file = join(root, path);
        await mkdir(dirname(file), { recursive: true });
        try {
          await writeFile(file, content, { flag: 'wx' });
          created.push(path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
          kept.push(path);
        }
      }
      const manifestFile = join(root, 'package.json');
      const existing = await readManifest(manifestFile);
      const { manifest, addedScripts } = mergePackageJson(existing, packageNameFor(basename(root)), packageVersion());
      await writeFile(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
      const out: string[] = [];
      if (created.length > 0) out.push(`created ${created.join(', ')}`);
      if (kept.length > 0) out.push(`kept (already there) ${kept.join(', ')}`);
      out.push(`${existing === undefined ? 'created' : 'updated'} package.json${addedScripts.length > 0 ? ` (scripts: ${addedScripts.join(', ')})` : ''}`);
      if (existing !== undefined && manifest.type !== 'module') {
        out.push('note: package.json has no "type": "module"; the generated files are ES modules (add it, or rename them to .mts)');
      }
      const cd = dir === '.' ? '' : `  cd ${dir}\n`;
      out.push(
        '',
        'next:',
        `${cd}  npm install`,
        '  npm run topology:apply   # declare the exchange and queues on RabbitMQ',
        '  npm run worker           # run the worker (leave it running)',
        '  npm run enqueue          # in another terminal: enqueue a job from code',
        '  npm run types            # after changing a job schema in topology.yaml',
      );
      process.stdout.write(`${out.join('\n')}\n`);
    });
}

async function readManifest(file: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through: the same message for bad JSON and a non-object
  }
  throw new CliExit(EXIT.invalid, `${file}: not a JSON object; fix it or run warren init in an empty directory`);
}

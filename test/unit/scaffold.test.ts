import { describe, expect, it } from 'vitest';
import { parseTopology } from '../../src/topology/load.ts';
import { mergePackageJson, packageNameFor, scaffoldFiles } from '../../src/scaffold/files.ts';
import { scripts } from '../../src/scaffold/templates.ts';

describe('warren init scaffold', () => {
  it('writes a valid starter topology, one worker, generated types, an enqueue script and .env.example', () => {
    const files = scaffoldFiles();
    expect([...files.keys()].sort()).toEqual(
      ['.env.example', '.gitignore', 'src/enqueue.ts', 'src/jobs.ts', 'topology.yaml', 'tsconfig.json', 'workers/welcome-email.ts'].sort(),
    );
    const topology = parseTopology(files.get('topology.yaml') ?? '', 'topology.yaml');
    expect(topology.ok).toBe(true);
    expect(files.get('src/jobs.ts')).toContain("'welcome-email': UserSignedUp;");
    expect(files.get('.env.example')).toContain('AMQP_URL=');
  });

  it('a new package.json is an ES module package with every script and dependency', () => {
    const { manifest, addedScripts } = mergePackageJson(undefined, 'svc', '1.2.3');
    expect(manifest).toMatchObject({ name: 'svc', private: true, type: 'module', dependencies: { warren: '^1.2.3' } });
    expect(addedScripts).toEqual(Object.keys(scripts));
    expect(Object.keys(manifest.devDependencies as object).sort()).toEqual(['@types/node', 'tsx', 'typescript']);
  });

  it('an existing package.json keeps its own scripts and dependency versions', () => {
    const { manifest, addedScripts } = mergePackageJson(
      { name: 'mine', type: 'module', scripts: { worker: 'my own', test: 'vitest' }, dependencies: { warren: 'file:../warren.tgz' }, devDependencies: { typescript: '5.4.0' } },
      'ignored',
      '1.2.3',
    );
    expect(manifest.name).toBe('mine');
    expect(manifest.scripts).toMatchObject({ worker: 'my own', test: 'vitest', enqueue: 'tsx src/enqueue.ts' });
    expect(addedScripts).not.toContain('worker');
    expect(manifest.dependencies).toEqual({ warren: 'file:../warren.tgz' });
    expect(manifest.devDependencies).toMatchObject({ typescript: '5.4.0', tsx: '^4.20.0' });
  });

  it('a package.json with dependencies only (what `npm install warren` leaves) becomes a new ES module project', () => {
    const { manifest } = mergePackageJson({ dependencies: { warren: 'file:warren.tgz' } }, 'svc', '1.2.3');
    expect(manifest).toMatchObject({ name: 'svc', type: 'module', dependencies: { warren: 'file:warren.tgz' } });
  });

  it('an existing project without "type" is left as it is', () => {
    expect(mergePackageJson({ name: 'old', main: 'index.js' }, 'svc', '1.2.3').manifest.type).toBeUndefined();
  });

  it.each([
    ['My Service', 'my-service'],
    ['.hidden', 'hidden'],
    ['***', 'my-service'],
  ])('directory %j → package name %j', (dir, name) => {
    expect(packageNameFor(dir)).toBe(name);
  });
});

import { assetSizes, loadConsoleAssets, writeConsoleAssets } from './bundle.ts';

// `npm run build` (and so `npm pack`): the console's assets into dist/console/, for the package.
// Said on stderr: `npm pack --json` prints its JSON on stdout.
const out = await writeConsoleAssets();
const size = assetSizes(await loadConsoleAssets());
process.stderr.write(`console: ${out} (${size.raw} bytes, ${size.gzip} gzipped)\n`);

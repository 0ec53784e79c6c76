/**
 * Bundles the operator dashboard (src/dashboard/web) into dist/dashboard with esbuild: one script, one
 * stylesheet and index.html, with everything they use inside them, so the served page needs no network
 * and runs under a Content-Security-Policy without 'unsafe-inline'. Part of `npm run build`; the
 * integration tests' global set-up calls it too, so `npm test` on a fresh clone serves a current bundle.
 * Plain CommonJS so that both node and Jest run it as it is.
 */
const path = require('node:path');
const fs = require('node:fs');

const ROOT = path.resolve(__dirname, '..');
const SOURCE = path.join(ROOT, 'src', 'dashboard', 'web');
const OUT = path.join(ROOT, 'dist', 'dashboard');

async function buildDashboard({ outDir = OUT, quiet = false } = {}) {
  const esbuild = require('esbuild');
  const started = Date.now();
  fs.rmSync(outDir, { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { app: path.join(SOURCE, 'main.tsx') },
    outdir: outDir,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['chrome100', 'firefox100', 'safari15'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    tsconfig: path.join(SOURCE, 'tsconfig.json'),
    logLevel: quiet ? 'error' : 'warning',
    metafile: true,
  });
  fs.copyFileSync(path.join(SOURCE, 'index.html'), path.join(outDir, 'index.html'));
  const files = Object.keys(result.metafile.outputs).map((f) => `${path.basename(f)} ${fs.statSync(path.join(ROOT, f)).size} B`);
  if (!quiet) process.stdout.write(`dashboard bundle: ${[...files, 'index.html'].join(', ')} -> ${path.relative(ROOT, outDir)} in ${Date.now() - started} ms\n`);
  return outDir;
}

module.exports = { buildDashboard, DASHBOARD_OUT: OUT };

if (require.main === module) {
  buildDashboard().catch((err) => {
    process.stderr.write(`dashboard build failed: ${err && err.message ? err.message : err}\n`);
    process.exit(1);
  });
}

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
  buildQueuesView(path.join(outDir, 'queues-views'));
  const files = Object.keys(result.metafile.outputs).map((f) => `${path.basename(f)} ${fs.statSync(path.join(ROOT, f)).size} B`);
  if (!quiet)
    process.stdout.write(
      `dashboard bundle: ${[...files, 'index.html'].join(', ')} -> ${path.relative(ROOT, outDir)} in ${Date.now() - started} ms\n`,
    );
  return outDir;
}

/**
 * bull-board's page template without its link to a web-font service: the /queues board then loads
 * nothing from another origin either (its CSP would block the request, but the browser would still
 * try). Fails the build if the template still names another origin, e.g. after a bull-board upgrade.
 */
function buildQueuesView(dir) {
  const template = path.join(path.dirname(require.resolve('@bull-board/ui/package.json')), 'dist', 'index.ejs');
  const html = fs.readFileSync(template, 'utf8').replace(/<link\b[^>]*\bhref="https:\/\/fonts\.googleapis\.com[^"]*"[^>]*>\s*/g, '');
  const external = /(?:src|href)="(?:https?:)?\/\/[^"]*"/.exec(html);
  if (external) throw new Error(`bull-board's page template still loads ${external[0]}; update scripts/build-dashboard.js`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'index.ejs'), html);
}

module.exports = { buildDashboard, DASHBOARD_OUT: OUT };

if (require.main === module) {
  buildDashboard().catch((err) => {
    process.stderr.write(`dashboard build failed: ${err && err.message ? err.message : err}\n`);
    process.exit(1);
  });
}

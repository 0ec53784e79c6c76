/**
 * The worker as production runs it (`npm run worker` is `node --max-old-space-size=256 dist/workers/worker.js`): plain
 * JavaScript, no TypeScript compiler in the process. ts-node alone costs a worker ~100 MB of resident
 * memory (the compiler and its caches), which would drown the figure the SPEC asks for (peak RSS).
 *
 * The sources (src/, workers/, migrations/) are transpiled file by file (ts.transpileModule, the same
 * transform `ts-node --transpile-only` applies, so a work-in-progress type error elsewhere does not
 * stop the bench) into bench/.build/ (git-ignored by bench/.gitignore), once per run. Packages
 * resolve from the repository's node_modules, as the directory sits inside it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { onRunCleanup } from './cleanup';
import { progress } from './log';
import { ROOT } from './services';

export const BUILD_DIR = path.join(ROOT, 'bench', '.build');
const SOURCE_DIRS = ['src', 'workers', 'migrations'];

let built: string | undefined;

function* tsFiles(dir: string): Generator<string> {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* tsFiles(p);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && !/\.(spec|test)\.ts$/.test(entry.name)) yield p;
  }
}

/** Transpiles the worker's sources (once per process); returns the path of workers/worker.js. */
export function buildWorker(): string {
  if (built) return built;
  const t0 = Date.now();
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(ROOT, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
  );
  const options: ts.CompilerOptions = {
    ...(config?.options ?? {}),
    module: ts.ModuleKind.CommonJS,
    sourceMap: false,
    inlineSourceMap: false,
    declaration: false,
  };
  fs.rmSync(BUILD_DIR, { recursive: true, force: true });
  let files = 0;
  for (const dir of SOURCE_DIRS) {
    for (const file of tsFiles(path.join(ROOT, dir))) {
      const out = path.join(BUILD_DIR, path.relative(ROOT, file)).replace(/\.ts$/, '.js');
      const { outputText } = ts.transpileModule(fs.readFileSync(file, 'utf8'), { compilerOptions: options, fileName: file });
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, outputText);
      files++;
    }
  }
  built = path.join(BUILD_DIR, 'workers', 'worker.js');
  onRunCleanup('remove the transpiled worker', async () => {
    fs.rmSync(BUILD_DIR, { recursive: true, force: true });
    built = undefined;
  });
  progress('build', `transpiled ${files} files into ${path.relative(ROOT, BUILD_DIR)} in ${Date.now() - t0} ms`);
  return built;
}

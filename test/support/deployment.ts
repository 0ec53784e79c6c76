/**
 * Helpers for the deployment tests: the tools scripts/ci/install-tools.sh puts in .tools/bin (npm test
 * installs them), rendering with kustomize, the offline schemas, JSON merge and strategic merge patches as
 * kubectl applies them, and running the deploy scripts.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from './env';

export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
};

export const K8S = path.join(ROOT, 'deployment/kubernetes');

/** A tool from .tools/bin (or the environment variable), or an error saying how to get it. */
export function tool(name: 'kustomize' | 'kubeconform'): string {
  const fromEnv = process.env[name.toUpperCase()];
  const file = fromEnv ?? path.join(ROOT, '.tools/bin', name);
  if (!fs.existsSync(file)) {
    throw new Error(
      `${name} not found at ${file}: run \`bash scripts/ci/install-tools.sh\` (npm test and .ci/run do it), or set ${name.toUpperCase()}`,
    );
  }
  return file;
}

/** The schemas scripts/ci/crd-schemas.sh generates for custom resources the offline set lacks (ExternalSecret, SecretStore). */
export function crdSchemasDir(): string {
  const dir = process.env.CRD_SCHEMAS_DIR ?? path.join(ROOT, '.tools/schemas/crds');
  if (!fs.existsSync(path.join(dir, 'external-secrets.io/externalsecret_v1.json'))) {
    throw new Error(`no generated CRD schemas at ${dir}: run \`bash scripts/ci/crd-schemas.sh\` (npm test and .ci/run do it)`);
  }
  return dir;
}

export function schemasDir(): string {
  const dir = process.env.LMS_SCHEMAS_DIR ?? path.resolve(ROOT, '../shared/schemas');
  if (!fs.existsSync(path.join(dir, 'kubernetes/v1.30.0-standalone-strict'))) {
    throw new Error(`no offline schemas at ${dir}: put ../shared/schemas beside the repository or set LMS_SCHEMAS_DIR`);
  }
  return dir;
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`YAML: ${d.errors.map((e) => e.message).join('; ')}`);
      return d.toJS() as Manifest;
    })
    .filter((m) => m !== null);
}

const rendered = new Map<string, Manifest[]>();

/** `kustomize build` of a folder under deployment/kubernetes (cached: the tests do not change them). */
export function render(dir: string): Manifest[] {
  if (!rendered.has(dir))
    rendered.set(
      dir,
      parseManifests(execFileSync(tool('kustomize'), ['build', path.join(K8S, dir)], { encoding: 'utf8', maxBuffer: 16 << 20 })),
    );
  return structuredClone(rendered.get(dir)!);
}

/** `kustomize build` of any folder: the manifests, or the error kustomize gave. */
export function tryRender(absDir: string): { manifests?: Manifest[]; error?: string } {
  const r = spawnSync(tool('kustomize'), ['build', absDir], { encoding: 'utf8', maxBuffer: 16 << 20 });
  return r.status === 0 ? { manifests: parseManifests(r.stdout) } : { error: r.stderr };
}

/**
 * A throw-away copy of an overlay beside it (same relative paths; git ignores `.render-*`), changed by
 * `edit(dir)`, for tests of what a render with other values does.
 */
export function overlayCopy(overlay: string, edit: (dir: string) => void): { dir: string; relative: string; cleanup(): void } {
  const source = path.join(K8S, overlay);
  const dir = fs.mkdtempSync(path.join(path.dirname(source), `.render-test-${path.basename(source)}-`));
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    fs.cpSync(source, dir, { recursive: true });
    edit(dir);
  } catch (err) {
    cleanup();
    throw err;
  }
  return { dir, relative: path.relative(ROOT, dir), cleanup };
}

/** Replaces `key: value` lines (YAML) or `KEY=value` lines (env files) in a file of an overlay copy. */
export function setValues(file: string, values: Record<string, string>): void {
  let text = fs.readFileSync(file, 'utf8');
  for (const [key, value] of Object.entries(values)) {
    const yamlLine = new RegExp(`^(\\s*${key}: ).*$`, 'm');
    const envLine = new RegExp(`^${key}=.*$`, 'm');
    if (yamlLine.test(text)) text = text.replace(yamlLine, `$1${value}`);
    else if (envLine.test(text)) text = text.replace(envLine, `${key}=${value}`);
    else throw new Error(`${key} not in ${file}`);
  }
  fs.writeFileSync(file, text);
}

/** The Deployments and Jobs that run this service's image (not third-party ones such as the load tester). */
export const ourWorkloads = (manifests: Manifest[]) =>
  manifests.filter(
    (m) =>
      (m.kind === 'Deployment' || m.kind === 'Job') &&
      (m.spec.template.spec.containers as Array<{ image: string }>).some((c) => /(^|\/)legacy-migration-service([:@]|$)/.test(c.image)),
  );

export function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind && m.metadata.name === name);
  if (found.length !== 1)
    throw new Error(
      `expected one ${kind} ${name}, found ${found.length}: ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`,
    );
  return found[0];
}

export const ofKind = (manifests: Manifest[], kind: string) => manifests.filter((m) => m.kind === kind);

/** `kubeconform -strict` against the offline schemas; returns its output, throws with it when invalid. */
export function validate(manifests: Manifest[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lms-kubeconform-'));
  try {
    const file = path.join(dir, 'manifests.json');
    // One JSON document per line is valid YAML, one document each.
    fs.writeFileSync(file, manifests.map((m) => `---\n${JSON.stringify(m)}`).join('\n'));
    const schemas = schemasDir();
    const args = [
      '-strict',
      '-summary',
      '-kubernetes-version',
      '1.30.0',
      '-schema-location',
      path.join(schemas, 'kubernetes'),
      '-schema-location',
      `${schemas}/crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json`,
      '-schema-location',
      `${crdSchemasDir()}/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json`,
      file,
    ];
    const r = spawnSync(tool('kubeconform'), args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`kubeconform refused the manifests:\n${r.stdout}${r.stderr}`);
    return r.stdout;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386 JSON merge patch (`kubectl patch --type merge`): objects merge, null deletes, lists are replaced. */
export const mergePatch = (target: unknown, patch: unknown): unknown => applyPatch(target, patch, false);

/**
 * The part of a strategic merge patch (`kubectl patch --type strategic`) the scripts use: like a merge
 * patch, except that lists of objects with a `name` (containers, env, ports, volumes) merge by name.
 */
export const strategicPatch = (target: unknown, patch: unknown): unknown => applyPatch(target, patch, true);

function applyPatch(target: unknown, patch: unknown, byName: boolean): unknown {
  if (byName && Array.isArray(patch) && Array.isArray(target) && patch.every((p) => isObject(p) && typeof p.name === 'string')) {
    const result = target.map((t) => structuredClone(t));
    for (const p of patch as Array<Record<string, unknown>>) {
      const i = result.findIndex((t) => isObject(t) && t.name === p.name);
      if (i >= 0) result[i] = applyPatch(result[i], p, byName);
      else result.push(structuredClone(p));
    }
    return result;
  }
  if (!isObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyPatch(result[key], value, byName);
  }
  return result;
}

export interface ScriptPatch {
  kind: string;
  name: string;
  type: 'merge' | 'strategic';
  patch: unknown;
}

export interface ScriptRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runScript(script: string, args: string[], env: Record<string, string> = {}): ScriptRun {
  const r = spawnSync('bash', [path.join(ROOT, script), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same without blocking this process (for a script that talks to a server the test runs). */
export function runScriptAsync(script: string, args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<ScriptRun> {
  return new Promise((resolve) => {
    const child = spawn('bash', [path.join(ROOT, script), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** A deploy script's `--print-patch` output: one JSON line per change. */
export function printedPatches(script: string, args: string[]): ScriptPatch[] {
  const r = runScript(script, [...args, '--print-patch']);
  if (r.status !== 0) throw new Error(`${script} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ScriptPatch);
}

/** Applies the changes, in order, to the rendered manifests (as kubectl patch would to the live objects). */
export function applyPatches(manifests: Manifest[], patches: ScriptPatch[]): Manifest[] {
  let result = manifests;
  for (const p of patches) {
    find(result, p.kind, p.name);
    result = result.map((m) =>
      m.kind === p.kind && m.metadata.name === p.name
        ? ((p.type === 'merge' ? mergePatch(m, p.patch) : strategicPatch(m, p.patch)) as Manifest)
        : m,
    );
  }
  return result;
}

/** The fake kubectl (test/support/fake-kubectl.sh): the arguments of every call it got. */
export function fakeKubectl(): { env: Record<string, string>; calls(): string[][]; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lms-kubectl-'));
  const log = path.join(dir, 'calls.jsonl');
  return {
    env: { KUBECTL: path.join(ROOT, 'test/support/fake-kubectl.sh'), FAKE_KUBECTL_LOG: log },
    calls: () =>
      fs.existsSync(log)
        ? fs
            .readFileSync(log, 'utf8')
            .split('\x1e')
            .filter((call) => call !== '')
            .map((call) => call.split('\x1f').slice(0, -1))
        : [],
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * The floors of STYLE.md, kept by the machine (`npm run lint:deps`, a stage of .ci/run). Read the import graph
 * as a building: every import points down a floor (or sideways along an arrow listed below), never up, never
 * in a circle. Type-only imports count like any other (`tsPreCompilationDeps`).
 *
 *   5  top         src/*.ts (app.module, worker.module, app-config: the composition), workers/ (entrypoints)
 *   4              dashboard/
 *   3              migration/ (the phase machine that drives the capabilities)
 *   2  capability  conversations/ (the API), repair/, sync/, verify/, shadow/, traffic/, cleanup/, rate-limit/, health/
 *   1              mode/ (the phase register's read side), stores/ (ports + adapters), queues/ (the queue kit), http/
 *   0  ground      model/ (plain TypeScript), config/ (the kit), common/, queues/queue-names.ts
 *
 * An exception is made where the import starts, with a comment saying why, and listed in EXCEPTIONS here.
 */
const FLOORS = [
  ['model', 'config', 'common', 'queues/queue-names'],
  ['mode', 'stores', 'queues', 'http'],
  ['conversations', 'repair', 'sync', 'verify', 'shadow', 'traffic', 'cleanup', 'rate-limit', 'health'],
  ['migration'],
  ['dashboard'],
];

/**
 * Arrows between two folders of one floor, the lower one on the right. Listed once, so no two folders can
 * import each other; any other arrow along a floor is refused like one going up.
 */
const SIDEWAYS = {
  common: ['config'], // the server and auth sections are read with the config kit's EnvReader
  mode: ['stores'], // the state row is read through the stores' DataSource
  queues: ['stores'], // workers and producers take their Redis connections from stores/redis.ts
  conversations: ['repair'], // the API's write path records repairs
  shadow: ['conversations'], // compares what the API answers, in its DTOs; reads the API's @Shadowed marker
  verify: ['repair'], // verification in repair mode hands differences to the repair service
};

/**
 * Arrows that run back up: `{ from, to, why }`, each also explained in a comment where it starts. None today;
 * STYLE.md allows at most three.
 */
const EXCEPTIONS = [];

const folderRe = (f) => (f.includes('/') ? `^src/${f}\\.ts$` : `^src/${f}/`);
const any = (folders) => folders.map(folderRe);

const floorRules = FLOORS.flatMap((folders, n) =>
  folders.map((f) => {
    const higher = FLOORS.slice(n + 1).flat();
    const sameFloor = folders.filter((g) => g !== f && !(SIDEWAYS[f] ?? []).includes(g) && !(f === 'queues' && g === 'queues/queue-names'));
    return {
      name: `floors:${f}`,
      comment: `${f}/ stands on floor ${n}: it imports lower floors, and along its floor only what SIDEWAYS lists (STYLE.md, Floors)`,
      severity: 'error',
      from: { path: folderRe(f), pathNot: [...EXCEPTIONS.map((e) => e.from), ...(f === 'queues' ? [folderRe('queues/queue-names')] : [])] },
      to: { path: [...any([...higher, ...sameFloor]), '^src/[^/]+\\.tsx?$'] },
    };
  }),
);

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No circles, type-only imports included.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'model-is-plain',
      comment: 'model/ imports only itself and Node built-ins (its property-test helpers and specs also fast-check).',
      severity: 'error',
      from: { path: '^src/model/' },
      to: { path: '^src/', pathNot: '^src/model/' },
    },
    {
      name: 'model-is-plain-npm',
      comment: 'Only the property-test helpers and specs of model/ may use an npm package, and only fast-check.',
      severity: 'error',
      from: { path: '^src/model/', pathNot: ['^src/model/testing/', '\\.spec\\.ts$'] },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-peer', 'npm-optional', 'npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'config-is-a-kit',
      comment: 'config/ (env reader, env file, AWS credentials) imports no other src/ folder.',
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: '^src/', pathNot: '^src/config/' },
    },
    {
      name: 'no-wing-imports-the-composition',
      comment: 'A wing injects its own config section; the composition (src/app-config.ts and its module) is for the top floor.',
      severity: 'error',
      from: { path: '^src/[^/]+/' },
      to: { path: '^src/app-config(\\.module)?\\.ts$' },
    },
    {
      name: 'mode-below-migration',
      comment: 'mode/ is the read side of the phase register: it does not import the phase machine.',
      severity: 'error',
      from: { path: '^src/mode/' },
      to: { path: '^src/migration/' },
    },
    {
      name: 'domain-is-plain',
      comment: 'Domain code (domain/ folders) imports domain code, the model, ports and Node built-ins only.',
      severity: 'error',
      from: { path: '/domain/', pathNot: '\\.spec\\.ts$' },
      to: { dependencyTypesNot: ['core'], pathNot: ['/domain/', '^src/model/', '\\.port\\.ts$'] },
    },
    ...floorRules,
    {
      name: 'floors:every-folder-has-one',
      comment: 'A new src/ folder gets its floor in FLOORS before it imports anything.',
      severity: 'error',
      from: { path: '^src/[^/]+/', pathNot: FLOORS.flat().map(folderRe) },
      to: {},
    },
    {
      name: 'dashboard-web-is-a-browser-bundle',
      comment: 'The dashboard page imports only its own files, Preact, and plain code (model/, domain/ folders, types).',
      severity: 'error',
      from: { path: '^src/dashboard/web/' },
      to: { pathNot: ['^src/dashboard/web/', '^src/model/', '/domain/', 'node_modules/preact'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js'] },
    exclude: { path: '^src/dashboard/web/.*\\.css$' },
  },
};

/* global module */
// The layers of the code, as an allow-list (in the manner of VS Code's code-layering rule):
// each folder names what it may import, and an import no rule allows fails `npm run lint`.
// Also: no cycles anywhere, the renderer takes only types from node-core, and nothing the
// simulator loads reaches SQLite, TCP or the production wiring. docs/architecture.md draws
// the same map. Checked by `npm run lint:layers` (dependency-cruiser); the test
// test/core/layers.test.ts shows it failing on a planted violation.

/** Folders of node-core, innermost first. */
const nc = (folders) => `^node-core/src/(${folders.join('|')})/`;
const builtin = (names) => `^(node:)?(${names.join('|')})$`;
const npm = (names) => `^node_modules/(${names.join('|')})/`;
/** The transport interface and the messages: what may know of the wire without touching a socket. */
const netInterfaces = '^node-core/src/net/(messages|transport|msgpack-guard)\\.ts$';

/** What each folder may import besides itself. */
const layers = [
  // The pure core: Dynamo's rules, no I/O. msgpackr packs stored rows; crypto hashes the ring and seals contexts.
  { from: nc(['core']), to: [nc(['core']), npm(['msgpackr']), builtin(['crypto'])] },
  // Shared wire types: what crosses a process boundary (control plane, console API).
  { from: nc(['wire']), to: [nc(['core', 'wire'])] },
  // The consistency checker, its history and the recording client (the simulator, the chaos run and the console's experiments): pure like core; requests and pauses come in.
  { from: nc(['verify']), to: [nc(['core', 'wire', 'verify'])] },
  // The HTTP API's one client (the CLI, the console, the bench, the chaos run and the tests use it): standalone, to be the public library.
  // Isomorphic: node:http only in http.ts (the browser build swaps it out, package.json "browser"); Buffer from 'buffer' (Node's own, or the npm polyfill in a bundle).
  { from: nc(['client']), to: [nc(['client', 'wire']), builtin(['http', 'https', 'buffer'])] },
  // Edges: storage engines and the transport behind core's interfaces.
  // The production edges' shared scheduler (end of the event loop's turn): timers, no I/O.
  { from: nc(['runtime']), to: [nc(['runtime'])] },
  { from: nc(['store']), to: [nc(['core', 'store', 'runtime']), npm(['msgpackr', 'better-sqlite3']), builtin(['fs', 'path', 'worker_threads'])] },
  { from: nc(['net']), to: [nc(['core', 'net', 'runtime']), npm(['msgpackr']), builtin(['net', 'tls', 'crypto'])] },
  // The replication loops: each reaches the node through the narrow interface it declares.
  { from: nc(['replication']), to: [nc(['core', 'replication']), netInterfaces] },
  // The driver: wires core, loops and the transport interface; no SQLite, no TCP, no wall clock. crypto compares secrets.
  { from: nc(['node']), to: [nc(['core', 'wire', 'replication', 'node']), netInterfaces, npm(['msgpackr', 'pino', 'prom-client', 'hdr-histogram-js']), builtin(['crypto'])] },
  // The operator's control plane and the client HTTP API: edges around the driver.
  { from: nc(['control']), to: [nc(['core', 'wire', 'net', 'node', 'control']), npm(['socket.io', 'msgpackr']), builtin(['http', 'crypto'])] },
  { from: nc(['http']), to: [nc(['core', 'wire', 'node', 'control', 'http']), builtin(['http', 'https', 'tls', 'crypto'])] },
  // The RESP front end: the same coordinator behind the Redis protocol.
  { from: nc(['resp']), to: [nc(['core', 'node', 'resp', 'runtime']), builtin(['net', 'tls', 'crypto'])] },
  // Production wiring: the only place SQLite, TCP, TLS files, pino and the wall clock meet the node, and its listeners are bound.
  { from: nc(['start']), to: [nc(['core', 'store', 'net', 'node', 'client', 'http', 'resp', 'start']), npm(['msgpackr', 'pino']), builtin(['crypto', 'fs', 'tls', 'net', 'http'])] },
  // The load generator (gyre bench): sockets and /proc; the client only to read /status.
  { from: nc(['bench']), to: [nc(['bench', 'client']), npm(['hdr-histogram-js']), builtin(['net', 'fs', 'worker_threads'])] },
  { from: nc(['cli']), to: [nc(['core', 'net', 'node', 'http', 'resp', 'bench', 'client', 'start', 'store', 'cli']), npm(['commander']), builtin(['os', 'fs', 'path', 'url', 'net', 'child_process', 'http'])] },
  // The console's backend (plain Node) and the Electron shell around it.
  {
    from: '^electron/backend/',
    to: ['^electron/backend/', nc(['wire', 'core', 'client', 'verify']), '^node-core/src/cli/supervisor\\.ts$', npm(['socket.io', 'socket.io-client', 'sqlite3']), builtin(['crypto', 'fs', 'path', 'http', 'https'])],
  },
  { from: '^electron/[^/]+$', to: ['^electron/', nc(['wire']), npm(['electron']), builtin(['os', 'path', 'url', 'util', 'fs', 'fs/promises', 'module', 'child_process'])] },
  // The renderer runs in a browser: its own code, browser libraries, node-core's wire types (types only, below).
  { from: '^renderer/', to: ['^renderer/', nc(['wire']), npm(['svelte', 'uplot', 'socket.io-client', 'esm-env', 'clsx', 'msgpackr'])] },
  { from: '^renderer/vite\\.config\\.ts$', to: [npm(['vite', '@sveltejs']), builtin(['path', 'url'])] },
  // The verification harness (simulator, chaos run): runs the node's own code; not shipped.
  { from: '^test/harness/', to: ['^test/harness/', nc(['core', 'wire', 'verify', 'net', 'store', 'replication', 'node', 'client', 'start', 'cli']), npm(['msgpackr', 'pino']), builtin(['crypto', 'util', 'path', 'os', 'http', 'fs'])] },
  // Tests and benchmarks (not the harness: it has its own rule above) may reach anything but the Electron shell and the renderer.
  {
    from: '^test/(?!harness/)',
    to: ['^test/', '^node-core/src/', '^electron/backend/', '^node_modules/', builtin(['test', 'assert/strict', 'assert', 'crypto', 'util', 'path', 'os', 'http', 'https', 'fs', 'net', 'child_process', 'url', 'events', 'stream', 'timers/promises', 'worker_threads', 'perf_hooks', 'tls'])],
  },
];

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'An import cycle hides which module depends on which.', from: {}, to: { circular: true } },
    {
      name: 'renderer-types-only',
      severity: 'error',
      comment: 'The renderer takes only types from node-core: its code never runs in the browser.',
      from: { path: '^renderer/' },
      to: { path: '^node-core/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'simulator-runs-no-io',
      severity: 'error',
      comment: 'What the simulator runs must not load SQLite, TCP or the production wiring (it would also bring the wall clock).',
      from: { path: '^test/harness/sim/' },
      to: { reachable: true, path: ['^node-core/src/(start|cli|http|resp|control)/', '^node-core/src/store/sqlite-store\\.ts$', '^node-core/src/net/tcp-transport\\.ts$', npm(['better-sqlite3', 'sqlite3']), builtin(['net', 'http', 'fs', 'child_process'])] },
    },
  ],
  allowed: layers.flatMap(({ from, to }) => to.map((path) => ({ from: { path: from }, to: { path } }))),
  allowedSeverity: 'error',
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.cts', '.js', '.cjs', '.svelte'] },
    moduleSystems: ['es6', 'cjs'],
  },
};

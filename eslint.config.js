// Lint. The layers (STYLE 6: which folder may import which) are an allow-list checked by
// dependency-cruiser (.dependency-cruiser.cjs); this file adds the simulator's determinism rule.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'renderer/dist/**', 'build/output/**', 'artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // Svelte components: parsed by svelte-eslint-parser (TypeScript inside), so the renderer's
  // layering rule below covers them too; types are checked by svelte-check (npm run check:renderer).
  ...svelte.configs.recommended,
  {
    files: ['renderer/**/*.svelte', 'renderer/**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] } },
    rules: {
      // TypeScript (svelte-check) knows the browser's globals; this rule does not.
      'no-undef': 'off',
      // Maps and Sets here are built afresh inside $derived from each snapshot, never mutated.
      'svelte/prefer-svelte-reactivity': 'off',
    },
  },
  {
    // Plain Node scripts (test/ensure-browser.mjs runs before the build, so it cannot be TypeScript).
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      eqeqeq: ['error', 'smart'],
    },
  },
  {
    // Functions a reader can hold in their head (issue 10): the product, the console and the
    // harness. Test files are exempt: a table-driven test is one long callback by design.
    files: ['node-core/**/*.ts', 'electron/**/*.ts', 'electron/**/*.cts', 'renderer/**/*.ts', 'renderer/**/*.svelte', 'test/harness/**/*.ts', 'test/helpers/**/*.ts', 'test/bench/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }] },
  },
  {
    // Everything the simulator runs takes time, timers and randomness from its Env, so a seed
    // replays a run exactly (STYLE 2). Which folders may import which is checked by
    // dependency-cruiser (.dependency-cruiser.cjs, `npm run lint:layers`).
    files: [
      'node-core/src/core/**/*.ts',
      'node-core/src/wire/**/*.ts',
      'node-core/src/node/**/*.ts',
      'node-core/src/replication/**/*.ts',
      'node-core/src/net/messages.ts',
      'node-core/src/net/transport.ts',
      'node-core/src/net/msgpack-guard.ts',
      'node-core/src/store/memory-store.ts',
      'node-core/src/verify/**/*.ts',
      'test/harness/sim/**/*.ts',
    ],
    // The simulator's scheduler is the Env (its clock, timers and seeded randomness); its CLI reports wall time.
    ignores: ['test/harness/sim/env.ts', 'test/harness/sim/cli.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'code the simulator runs takes time from its Env (STYLE 2).' }, { object: 'Math', property: 'random', message: 'code the simulator runs takes randomness from its Env (STYLE 2).' }],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'code the simulator runs uses env.setTimer (STYLE 2).' },
        { name: 'setInterval', message: 'code the simulator runs uses env.setTimer (STYLE 2).' },
        { name: 'setImmediate', message: 'code the simulator runs uses env.setTimer (STYLE 2).' },
      ],
      'no-restricted-syntax': ['error', { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'code the simulator runs takes time from its Env (STYLE 2).' }],
    },
  },
);

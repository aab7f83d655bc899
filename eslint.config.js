// Lint, including the layering rules of STYLE.md point 6: node-core never imports the
// console (electron/, renderer/); the renderer never imports Node APIs.
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
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      eqeqeq: ['error', 'smart'],
    },
  },
  {
    files: ['node-core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/electron/**', '**/renderer/**', 'electron'], message: 'node-core must not depend on the console (STYLE 6).' }] }],
    },
  },
  {
    files: ['node-core/src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/electron/**', '**/renderer/**', 'electron'], message: 'node-core must not depend on the console (STYLE 6).' },
            { group: ['node:net', 'node:http', 'node:fs', 'node:child_process', 'better-sqlite3', '../node.js', '../http/*', '../store/sqlite-store.js', '../net/tcp-transport.js'], message: 'core/ is pure: effects come in through interfaces (STYLE 1).' },
          ],
        },
      ],
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'core/ takes time from its Env (STYLE 2).' }, { object: 'Math', property: 'random', message: 'core/ takes randomness from its Env (STYLE 2).' }],
      'no-restricted-globals': ['error', { name: 'setTimeout', message: 'core/ uses env.setTimer (STYLE 2).' }, { name: 'setInterval', message: 'core/ uses env.setTimer (STYLE 2).' }],
    },
  },
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.svelte'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', 'fs', 'path', 'child_process', 'electron', '**/node-core/src/*.js', '**/node-core/src/store/**', '**/node-core/src/net/**'], message: 'the renderer runs in a browser: no Node APIs (STYLE 6).' }] }],
    },
  },
);

// ESLint (flat config) for the service, its workers, scripts, tests, the bench and the dashboard.
// TypeScript files are linted with type information (typescript-eslint's `recommended` and five promise/type
// rules that catch real bugs: a dropped promise, a promise where a callback's result is ignored, an `await` on a
// non-promise, a `switch` that misses a case of a union, an assertion the compiler already knows). Layout is
// Prettier's job: eslint-config-prettier comes last so no rule here fights the formatter.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/**', 'coverage/**', 'node_modules/**', '.local/**', '.tools/**', '.schemathesis/**', 'tools/**', 'docs/**'],
  },
  {
    files: ['**/*.{ts,tsx}'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      parserOptions: {
        // The root project holds src/, workers/, migrations/, scripts/, test/ and bench/; the dashboard's browser
        // code (and its specs) has its own project with the DOM library and Preact's JSX.
        project: ['./tsconfig.json', './src/dashboard/web/tsconfig.spec.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      // `_`-prefixed names are deliberately unused (a parameter a signature requires, a destructured field left out).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // The integration and manifest tests read JSON response bodies and parsed YAML manifests field by field and
    // assert on them: typing every body (or casting from unknown at each step) would add noise, not safety, and a
    // wrong field fails the assertion anyway. The unit specs in src/ keep the rule.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Plain JavaScript: the build and CI helpers (CommonJS, Node) and the configuration files.
    files: ['**/*.{js,cjs,mjs}'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    files: ['**/*.{js,cjs}'],
    languageOptions: { sourceType: 'commonjs' },
  },
  prettier,
);

import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'sim/tools/**', '.sim/**', '.devhost/**', 'coverage/**', '*.js', '*.mjs', 'scripts/**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      eqeqeq: ['error', 'always'],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // Orchestrators replay: time, randomness, environment and I/O must come from context.df.
    files: ['orchestrations/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['@azure/*', '!@azure/functions', '@kubernetes/*', 'node:*', 'fs', 'http', 'https', 'net', 'child_process'], message: 'orchestrators may not do I/O: call an activity instead' },
        ],
      }],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'use context.df.currentUtcDateTime' },
        { object: 'Math', property: 'random', message: 'use context.df.newGuid' },
        { object: 'process', property: 'env', message: 'pass settings in the orchestration input' },
      ],
      'no-restricted-syntax': ['error', { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'use context.df.currentUtcDateTime' }],
    },
  },
);

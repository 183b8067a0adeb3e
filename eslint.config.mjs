// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Imports that would make replay non-deterministic or reach outside the pure core. */
const nonDeterministicImports = {
  patterns: [
    {
      group: [
        'node:*',
        'fs',
        'path',
        'os',
        'http',
        'https',
        'net',
        'child_process',
        'timers',
        'worker_threads',
      ],
      message:
        'orchestrators/ and sync/ are pure: no Node built-ins (node:crypto hashing in sync/ is the one exception).',
    },
    { group: ['@azure/*', 'mssql', 'better-sqlite3', 'axios'], message: 'No SDKs or drivers in pure code.' },
    {
      group: ['**/adapters/**', '**/adapters', '**/config/**', '**/config'],
      message: 'Pure code takes its ports and settings as parameters.',
    },
    {
      group: ['**/activities/*', '!**/activities/contracts', '!**/activities/orderContracts'],
      message: 'Orchestrators import only the activity contracts.',
    },
  ],
  paths: [
    {
      name: 'date-fns',
      importNames: [
        'isToday',
        'isTomorrow',
        'isYesterday',
        'isPast',
        'isFuture',
        'isThisWeek',
        'isThisMonth',
        'isThisYear',
        'formatDistanceToNow',
        'formatDistanceToNowStrict',
        'startOfToday',
        'endOfToday',
        'startOfTomorrow',
        'startOfYesterday',
      ],
      message: 'This date-fns helper reads the clock; pass now explicitly.',
    },
  ],
};

const nonDeterministicSyntax = [
  {
    selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
    message: 'Use context.df.currentUtcDateTime or a now parameter.',
  },
  {
    selector: "NewExpression[callee.name='Date'][arguments.length=0]",
    message: 'new Date() reads the clock; pass now explicitly.',
  },
  {
    selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
    message: 'Use context.df.newGuid or a seeded generator.',
  },
  {
    selector: ':function[async=true]',
    message: 'Orchestrators and pure code are synchronous (generators yield durable tasks).',
  },
];

const nonDeterministicGlobals = [
  'process',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'fetch',
  'queueMicrotask',
  'performance',
  'crypto',
].map((name) => ({ name, message: `${name} is not replay-safe in orchestrators/ and sync/.` }));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.data/**', 'coverage/**', 'test/fixtures/**/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.mjs', 'test/fixtures/*/*.js', 'test/fixtures/*/*/*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // node:test's describe/it return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    // Keep disableTypeChecked's parserOptions (no project service for plain JS), add Node's globals.
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: {
        require: 'readonly',
        module: 'writable',
        exports: 'writable',
        process: 'readonly',
        console: 'readonly',
        __dirname: 'readonly',
        __filename: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
      },
    },
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The dashboard page's script runs in the browser (served by triggers/dashboardHttp.ts).
    files: ['dashboard/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        document: 'readonly',
        location: 'readonly',
        fetch: 'readonly',
        URL: 'readonly',
        URLSearchParams: 'readonly',
        FormData: 'readonly',
        Node: 'readonly',
        setInterval: 'readonly',
      },
    },
  },
  {
    // Determinism: orchestrators replay, sync/ is the pure domain.
    files: ['orchestrators/**/*.ts', 'sync/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', nonDeterministicImports],
      'no-restricted-syntax': ['error', ...nonDeterministicSyntax],
      'no-restricted-globals': ['error', ...nonDeterministicGlobals],
    },
  },
  {
    // Hashing is deterministic; randomness is not.
    files: ['sync/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: nonDeterministicImports.patterns.map((p) =>
            p.group.includes('node:*') ? { ...p, group: [...p.group, '!node:crypto'] } : p,
          ),
          paths: [
            ...nonDeterministicImports.paths,
            {
              name: 'node:crypto',
              importNames: ['randomUUID', 'randomBytes', 'randomInt', 'getRandomValues'],
              message: 'No randomness in sync/.',
            },
          ],
        },
      ],
    },
  },
  {
    // devhost is a product of its own: it runs any v4 app and imports none of ours.
    files: ['devhost/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '**/triggers/**',
                '**/orchestrators/**',
                '**/entities/**',
                '**/activities/**',
                '**/sync/**',
                '**/adapters/**',
                '**/config/**',
                '../index',
                '../../index',
              ],
              message: 'devhost/ must not import the app; it is the host, not a library of the app.',
            },
          ],
        },
      ],
    },
  },
);

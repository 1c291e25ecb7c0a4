// Type-aware lint gates that catch real bugs (see ../shared/STYLE.md habit 11).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import { builtinModules } from 'node:module';

// Built-ins must be imported with the `node:` prefix.
const bareBuiltins = builtinModules
  .filter((m) => !m.startsWith('_'))
  .map((name) => ({ name, message: `import 'node:${name}' instead` }));

/**
 * no-restricted-paths zones for a source folder layered bottom to top: `base` (files at the
 * root every layer may import), then `layers`, each a list of sibling folders that may import
 * the base, the layers below and themselves (not their siblings).
 */
function layered(src, base, layers) {
  const zones = [];
  if (base.length > 0)
    zones.push({ target: base.map((f) => `${src}/${f.slice(2)}`), from: src, except: [] });
  layers.forEach((layer, i) => {
    const below = [...base, ...layers.slice(0, i).flat()];
    for (const folder of layer)
      zones.push({ target: `${src}/${folder.slice(2)}`, from: src, except: [...below, folder] });
  });
  return zones;
}

/** client-sdk/src's runtime-neutral top files, which every folder of it may import. */
const sdkTopFiles = ['./errors.ts', './bytes.ts', './storage.ts', './crypto.ts'];

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      'data/**',
      'coverage/**',
      'openapi/generated/**',
      'packages/matrix-crypto-unavailable/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      // Sources import their siblings as `.js` (ESM output); resolve those to the `.ts` files, or
      // no-cycle and no-restricted-paths see nothing.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [
        createNodeResolver({ extensionAlias: { '.js': ['.ts', '.d.ts', '.js'] } }),
      ],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { arguments: false } },
      ],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/explicit-module-boundary-types': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'import-x/no-cycle': 'error',
      'no-restricted-imports': ['error', { paths: bareBuiltins }],
      'no-console': 'error',
    },
  },
  {
    // directory/src is layered by folder (directory/README.md): zone <- transfer <- state <-
    // dns, publish <- the wiring at the top. No folder imports one above it.
    files: ['directory/src/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            { target: './directory/src/zone', from: './directory/src', except: ['./zone'] },
            {
              target: './directory/src/transfer',
              from: './directory/src',
              except: ['./zone', './transfer'],
            },
            {
              target: './directory/src/state',
              from: './directory/src',
              except: ['./zone', './transfer', './state'],
            },
            {
              target: './directory/src/dns',
              from: './directory/src',
              except: ['./zone', './transfer', './state', './dns'],
            },
            {
              target: './directory/src/publish',
              from: './directory/src',
              except: ['./zone', './state', './publish'],
            },
          ],
        },
      ],
    },
  },
  {
    // provider-api/src is layered by folder (provider-api/README.md): store <- core <- billing <-
    // accounts <- prekeys; mailboxes, operator, pages beside them; the wiring at the top.
    files: ['provider-api/src/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            { target: './provider-api/src/store', from: './provider-api/src', except: ['./store'] },
            {
              target: './provider-api/src/core',
              from: './provider-api/src',
              except: ['./store', './core'],
            },
            {
              target: './provider-api/src/billing',
              from: './provider-api/src',
              except: ['./store', './core', './billing'],
            },
            {
              target: './provider-api/src/accounts',
              from: './provider-api/src',
              except: ['./store', './core', './billing', './accounts'],
            },
            {
              target: './provider-api/src/prekeys',
              from: './provider-api/src',
              except: ['./store', './core', './accounts', './prekeys'],
            },
            {
              target: './provider-api/src/mailboxes',
              from: './provider-api/src',
              except: ['./store', './core', './mailboxes'],
            },
            {
              target: './provider-api/src/operator',
              from: './provider-api/src',
              except: ['./store', './core', './accounts', './operator'],
            },
            {
              target: './provider-api/src/pages',
              from: './provider-api/src',
              except: ['./core', './pages'],
            },
          ],
        },
      ],
    },
  },
  {
    // packages/dns-wire/src (its README): types.ts, errors.ts <- values <- wire <- presentation;
    // index.ts on top.
    files: ['packages/dns-wire/src/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: layered(
            './packages/dns-wire/src',
            ['./types.ts', './errors.ts'],
            [['./values'], ['./wire'], ['./presentation']],
          ),
        },
      ],
    },
  },
  {
    // packages/dnssec/src (its README): core <- keys, nsec3 <- crypto <- validation <- signing;
    // the entries index.ts and portable.ts on top.
    files: ['packages/dnssec/src/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: layered(
            './packages/dnssec/src',
            [],
            [['./core'], ['./keys', './nsec3'], ['./crypto'], ['./validation'], ['./signing']],
          ),
        },
      ],
    },
  },
  {
    // charter/src (its README): trust-list <- verify, decisions <- governance <- audit; cli and
    // the entries (index.ts, portable.ts, node.ts, cli.ts) on top.
    files: ['charter/src/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: layered(
            './charter/src',
            [],
            [['./trust-list'], ['./verify', './decisions'], ['./governance'], ['./audit']],
          ),
        },
      ],
    },
  },
  {
    // bridge/src (its README): model <- routing, store <- translators, core <- networks; the
    // wiring (bridge.ts, config.ts, service.ts, cli.ts, index.ts) on top.
    files: ['bridge/src/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: layered(
            './bridge/src',
            [],
            [['./model'], ['./routing', './store'], ['./translators', './core'], ['./networks']],
          ),
        },
      ],
    },
  },
  {
    // client-sdk/src (its README): errors.ts, bytes.ts, storage.ts, crypto.ts <- envelope.ts,
    // signal <- provider <- lookup, rendezvous; phone-client.ts and the entries on top. lookup/
    // and browser.ts stay runtime-neutral (top files, lookup/, provider/http.ts only); node/
    // never reaches cli/ or the entries above it.
    files: ['client-sdk/src/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            ...layered('./client-sdk/src', sdkTopFiles, [
              ['./envelope.ts', './signal'],
              ['./provider'],
              ['./rendezvous'],
            ]),
            ...['./lookup', './browser.ts'].map((target) => ({
              target: `./client-sdk/src/${target.slice(2)}`,
              from: './client-sdk/src',
              except: [...sdkTopFiles, './lookup', './provider/http.ts'],
            })),
            {
              target: './client-sdk/src/node',
              from: './client-sdk/src',
              except: [...sdkTopFiles, './lookup', './provider', './node'],
            },
          ],
        },
      ],
    },
  },
  {
    // bench/src (its README): fixtures <- load, children <- peers, report; cli (the benches)
    // and cli-options.ts on top. Nothing imports children/: the benches spawn those files.
    files: ['bench/src/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            ...layered(
              './bench/src',
              [],
              [['./fixtures'], ['./load', './children'], ['./peers', './report']],
            ),
            {
              target: './bench/src',
              from: './bench/src/children',
              message: 'children/ runs in a process of its own: spawn it by path',
            },
          ],
        },
      ],
    },
  },
  {
    // packages/enum-lookup runs in the client SDK's browser bundle: no Node built-in, except in
    // its Node-only entry (`@switchboard/enum-lookup/node`, src/sockets.ts).
    files: ['packages/enum-lookup/src/**/*.ts'],
    ignores: ['packages/enum-lookup/src/sockets.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: bareBuiltins,
          patterns: [
            { group: ['node:*'], message: 'enum-lookup runs in browsers: no Node built-in' },
          ],
        },
      ],
    },
  },
  {
    // Command-line tools and tests talk to the terminal on purpose.
    files: ['**/src/cli/**', '**/src/cli.ts', '**/test/**', 'bench/**', 'scripts/**'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/test/**'],
    rules: { '@typescript-eslint/explicit-module-boundary-types': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);

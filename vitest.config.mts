import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { TEST_QUOTAS, TEST_SECRETS } from './test/workers/secrets.ts';

/**
 * Three kinds of test, by path:
 *  - unit:    Node; domain logic, the container control server, the plugin.
 *  - workers: real workerd via the Cloudflare plugin; routes, TownDO, alarms.
 *             The real control server (globalSetup) behind a fault-injecting proxy.
 *  - e2e:     Node; the real Worker under wrangler dev, the real control server,
 *             real agent processes.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: {
                ...TEST_SECRETS,
                ...TEST_QUOTAS,
                CONTAINER_URL: `http://127.0.0.1:${inject('proxyPort')}`,
              },
            },
          })),
        ],
        test: {
          name: 'workers',
          include: ['test/workers/**/*.test.ts'],
          globalSetup: ['test/workers/global-setup.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 600_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

import { defineConfig } from 'vitest/config';

// unit: pure logic, no sockets to other processes. integration: real sockets, real mediasoup workers,
// real peers (SIPp, baresip, Kamailio). e2e: headless Chromium against the running server.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000 } },
      {
        test: {
          name: 'integration', include: ['test/integration/**/*.test.ts'],
          testTimeout: 120_000, hookTimeout: 120_000, fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e', include: ['test/e2e/**/*.test.ts'],
          testTimeout: 180_000, hookTimeout: 120_000, fileParallelism: false,
        },
      },
    ],
  },
});

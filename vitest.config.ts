import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', '.cache/**'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    // One file at a time (Vitest's default on two cores). Two side by side took the suite from
    // 503 to 339-413 s here, but under that load timing-sensitive files failed in one run of three
    // (a hostile-input case, two QEMU boots): not yet for CI.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    env: { LOG_LEVEL: 'warn' },
  },
});

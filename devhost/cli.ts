#!/usr/bin/env node
/**
 * `npm run devhost`: runs the app in the current directory on 127.0.0.1.
 * Settings: DEVHOST_PORT (default 7071), DEVHOST_STATE_DIR (default
 * .devhost), DEVHOST_APP_DIR (default the current directory), DEVHOST_CLOCK
 * (`real` or `instant`), DEVHOST_BIND (default 127.0.0.1) and
 * DEVHOST_ACTIVITY_CONCURRENCY.
 */
import path from 'node:path';

import { errorText } from '../src/observability/log';
import { clockFromName } from './clock';
import { runDevhost } from './runtime';

function integerSetting(name: string, fallback: number | undefined): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`Invalid ${name} "${raw}"; expected an integer from 0 to 65535.`);
  return value;
}

async function main(): Promise<void> {
  const appDir = path.resolve(process.env.DEVHOST_APP_DIR ?? process.cwd());
  const running = await runDevhost({
    appDir,
    port: integerSetting('DEVHOST_PORT', 7071) ?? 7071,
    bindAddress: process.env.DEVHOST_BIND ?? '127.0.0.1',
    stateDir: path.resolve(appDir, process.env.DEVHOST_STATE_DIR ?? '.devhost'),
    clock: clockFromName(process.env.DEVHOST_CLOCK),
    activityConcurrency: integerSetting('DEVHOST_ACTIVITY_CONCURRENCY', undefined),
  });

  process.stdout.write(`devhost listening on ${running.url}\n${running.routes.map((line) => `  ${line}`).join('\n')}\n`);
  process.send?.({ type: 'ready', url: running.url, port: running.port, routes: running.routes });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`devhost stopping (${signal})\n`);
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`devhost failed to stop cleanly: ${errorText(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('disconnect', () => shutdown('parent disconnected'));
}

main().catch((error: unknown) => {
  process.stderr.write(`devhost failed to start: ${errorText(error)}\n`);
  process.send?.({ type: 'error', message: errorText(error) });
  process.exit(1);
});

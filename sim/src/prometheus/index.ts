import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { stringify } from 'yaml';

import { consoleLogger, type Logger } from '../../../src/observability/log';
import { freeLoopbackPort, waitFor } from '../support';

/** Path of the server binary that Debian's prometheus package installs. */
export const debianPrometheusBinary = '/usr/bin/prometheus';

export interface PrometheusOptions {
  /** sim state directory; configuration, data and log go under `<stateDir>/prometheus`. */
  stateDir: string;
  /** Scrape targets as `host:port` on loopback. */
  targets: string[];
  scrapeIntervalSeconds?: number;
  binary?: string;
  logger?: Logger;
}

/** A running Prometheus server. */
export interface SimPrometheus {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Runs Debian's Prometheus on a free port of 127.0.0.1 with its own
 * configuration and data directory, scraping the given targets, and waits
 * until it reports ready. The system service of the package stays untouched.
 */
export async function startPrometheus(options: PrometheusOptions): Promise<SimPrometheus> {
  const logger = options.logger ?? consoleLogger({ component: 'sim-prometheus' });
  const binary = options.binary ?? debianPrometheusBinary;
  if (!existsSync(binary)) throw new Error(`Prometheus is not installed at ${binary}; run sim/scripts/install-system-deps.sh`);

  const dir = join(options.stateDir, 'prometheus');
  mkdirSync(join(dir, 'data'), { recursive: true });
  const interval = `${options.scrapeIntervalSeconds ?? 2}s`;
  const configPath = join(dir, 'prometheus.yml');
  writeFileSync(configPath, stringify({
    global: { scrape_interval: interval, evaluation_interval: interval },
    scrape_configs: [{ job_name: 'sim-traffic', honor_labels: true, static_configs: [{ targets: options.targets }] }],
  }));

  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = openSync(join(dir, 'prometheus.log'), 'a');
  const child = spawn(binary, [
    `--config.file=${configPath}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    '--storage.tsdb.retention.time=1d',
    `--web.listen-address=127.0.0.1:${port}`,
    '--web.enable-lifecycle',
    `--web.console.templates=${join(dir, 'consoles')}`,
    `--web.console.libraries=${join(dir, 'console_libraries')}`,
  ], { stdio: ['ignore', logFile, logFile] });
  closeSync(logFile);

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitFor(`Prometheus on ${url} to be ready`, async () => {
      if (child.exitCode !== null) throw new Error(`Prometheus exited with code ${child.exitCode}; see ${join(dir, 'prometheus.log')}`);
      const response = await fetch(`${url}/-/ready`);
      return response.ok ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
  } catch (error) {
    await terminate(child, exited);
    throw error;
  }
  logger.info('prometheus started', { url, pid: child.pid, scrapeInterval: interval, targets: options.targets });

  let stopped = false;
  return {
    url,
    pid: child.pid ?? 0,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await terminate(child, exited);
      logger.info('prometheus stopped', { url });
    },
  };
}

async function terminate(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000).unref());
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Result of an instant query through Prometheus's HTTP API. */
export interface InstantSample {
  metric: Record<string, string>;
  value: number;
}

/** Runs an instant PromQL query through `/api/v1/query`; throws when Prometheus reports an error. */
export async function queryPrometheus(url: string, query: string): Promise<InstantSample[]> {
  const response = await fetch(`${url}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query }) });
  const body = (await response.json()) as { status: string; error?: string; data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] } };
  if (body.status !== 'success' || !body.data) throw new Error(`Prometheus query failed (${response.status}): ${body.error ?? 'no data'}; query: ${query}`);
  if (body.data.resultType !== 'vector') throw new Error(`expected a vector from Prometheus, got ${body.data.resultType}; query: ${query}`);
  return body.data.result.map((sample) => ({ metric: sample.metric, value: Number(sample.value[1]) }));
}

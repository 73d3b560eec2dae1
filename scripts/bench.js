#!/usr/bin/env node
/**
 * `npm run bench`: runs every `*.js` under scripts/bench/ one after another
 * and writes each one's result to bench/results/<name>.json together with the
 * machine it ran on. A bench script prints its result as JSON at the end of
 * stdout; its other output is shown as it runs. The exit code is non-zero
 * when any bench failed.
 */
'use strict';

const { spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, readdirSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const benchDir = path.join(__dirname, 'bench');
const resultsDir = path.join(root, 'bench', 'results');

function machine() {
  return { node: process.version, platform: `${os.platform()} ${os.release()}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(os.totalmem() / 2 ** 30) };
}

/** Whether a parsed line is a structured log line (level + message), not a bench result. */
function isLogLine(value) {
  return value !== null && typeof value === 'object' && 'level' in value && 'message' in value;
}

/**
 * Parses the JSON a bench printed: the whole output, or else the last line or
 * block starting with "{" that is not a log line. Benches that start sim print
 * its shutdown log after their result, so the last line alone is not enough.
 */
function lastJson(stdout) {
  const tryParse = (text) => {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  };
  const whole = tryParse(stdout);
  if (whole !== undefined && !isLogLine(whole)) return whole;
  const lines = stdout.split('\n');
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    if (!lines[i].startsWith('{')) continue;
    const single = tryParse(lines[i]);
    if (single !== undefined && !isLogLine(single)) return single;
    const block = tryParse(lines.slice(i).join('\n'));
    if (block !== undefined && !isLogLine(block)) return block;
  }
  return undefined;
}

function main() {
  const only = process.argv.slice(2);
  const scripts = existsSync(benchDir) ? readdirSync(benchDir).filter((f) => f.endsWith('.js')).sort() : [];
  const selected = only.length > 0 ? scripts.filter((s) => only.includes(path.basename(s, '.js'))) : scripts;
  if (selected.length === 0) {
    process.stdout.write(`no bench scripts${only.length ? ` named ${only.join(', ')}` : ''} under ${path.relative(root, benchDir)}\n`);
    return 0;
  }
  mkdirSync(resultsDir, { recursive: true });

  let failed = 0;
  for (const script of selected) {
    const name = path.basename(script, '.js');
    process.stdout.write(`== bench ${name}\n`);
    const started = Date.now();
    const run = spawnSync(process.execPath, [path.join(benchDir, script)], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60 * 1000 });
    const stdout = (run.stdout ?? '').trim();
    const lines = stdout.split('\n');
    const result = lastJson(stdout);
    process.stdout.write(lines.slice(0, -1).map((l) => `  ${l}\n`).join(''));
    const ok = run.status === 0;
    if (!ok) failed++;
    const record = { bench: name, at: new Date(started).toISOString(), wallSeconds: (Date.now() - started) / 1000, ok, exitCode: run.status, machine: machine(), result: result ?? null, ...(ok ? {} : { error: run.error?.message ?? `exit code ${run.status}; last line: ${lines.at(-1) ?? ''}` }) };
    const file = path.join(resultsDir, `${name}.json`);
    writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
    process.stdout.write(`  ${ok ? 'ok' : 'FAILED'}: ${path.relative(root, file)}\n`);
  }
  return failed === 0 ? 0 : 1;
}

process.exit(main());

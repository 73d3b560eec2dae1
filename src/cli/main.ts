#!/usr/bin/env node
import { parseArgs } from 'node:util';

import type { ReleaseAction } from '../contracts/phases';
import { releaseActions } from '../contracts/phases';
import { ApiError, ReleaseApiClient } from './client';
import { progressBar, summary } from './render';
import { watchRelease } from './watch';

const usage = `mlrelease: start, watch and steer model releases over the release HTTP API

usage:
  mlrelease start --endpoint NAME (--model NAME:VERSION | --image REGISTRY/REPO@sha256:DIGEST) [--watch]
  mlrelease list [--endpoint NAME] [--status PHASE[,PHASE]]
  mlrelease status RELEASE_ID
  mlrelease watch RELEASE_ID
  mlrelease approve|reject|promote|rollback|abort RELEASE_ID [--reason TEXT]

options:
  --url URL        base URL of the function app (env MLRELEASE_URL, default http://127.0.0.1:7071)
  --key KEY        function key, sent as x-functions-key (env MLRELEASE_FUNCTION_KEY)
  --token TOKEN    Entra ID bearer token of the person acting (env MLRELEASE_TOKEN)
  --interval SEC   seconds between status reads in watch (default 1)
  --json           print raw JSON (status, list, start)

exit codes: 0 done (watch: the release succeeded), 1 the release ended otherwise, 2 usage or API error`;

/** One row of `GET /api/releases`. */
interface ListedRelease {
  releaseId: string;
  endpoint: string;
  state: string;
  phase: string;
  updatedAt: string;
  reason?: string;
}

/** Formats one release of `mlrelease list` as a line: id, endpoint, state, phase, time, reason. */
export function listLine(release: ListedRelease): string {
  const columns = [release.releaseId, release.endpoint, release.state, release.phase, release.updatedAt];
  return release.reason ? `${columns.join('  ')}  ${release.reason}` : columns.join('  ');
}

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
}

/** Runs one command line and returns the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        url: { type: 'string' }, key: { type: 'string' }, token: { type: 'string' }, endpoint: { type: 'string' }, model: { type: 'string' },
        image: { type: 'string' }, reason: { type: 'string' }, status: { type: 'string' }, interval: { type: 'string' }, watch: { type: 'boolean' },
        json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, id] = positionals;
  if (values.help || !command) {
    io.out(usage);
    return command || values.help ? 0 : 2;
  }

  const api = new ReleaseApiClient({
    baseUrl: values.url ?? io.env.MLRELEASE_URL ?? 'http://127.0.0.1:7071',
    ...((values.key ?? io.env.MLRELEASE_FUNCTION_KEY) ? { functionKey: values.key ?? io.env.MLRELEASE_FUNCTION_KEY } : {}),
    ...((values.token ?? io.env.MLRELEASE_TOKEN) ? { bearerToken: values.token ?? io.env.MLRELEASE_TOKEN } : {}),
    ...(io.fetch ? { fetch: io.fetch } : {}),
  });
  const intervalMs = Math.max(0.2, Number(values.interval ?? '1')) * 1000;
  const watch = async (releaseId: string): Promise<number> => {
    const result = await watchRelease(api, releaseId, { intervalMs, print: io.out });
    if (!result.finished) {
      io.err(result.reason);
      return 1;
    }
    return result.status.phase === 'Succeeded' ? 0 : 1;
  };

  try {
    switch (command) {
      case 'start': {
        if (!values.endpoint || (!values.model && !values.image)) throw new UsageError('start needs --endpoint and --model NAME:VERSION or --image REF@sha256:...');
        const model = values.model ? parseModel(values.model) : undefined;
        const started = await api.start({ endpoint: values.endpoint, ...(model ? { model } : {}), ...(values.image ? { image: values.image } : {}), ...(values.reason ? { reason: values.reason } : {}) });
        io.out(values.json ? JSON.stringify(started) : `release ${started.releaseId}: ${started.outcome}`);
        return values.watch ? await watch(started.releaseId) : 0;
      }
      case 'list': {
        const listed = (await api.list(values.endpoint, values.status)) as { releases?: ListedRelease[] } | undefined;
        if (values.json || !Array.isArray(listed?.releases)) {
          io.out(JSON.stringify(listed, null, 2));
          return 0;
        }
        if (listed.releases.length === 0) io.out('no releases');
        for (const release of listed.releases) io.out(listLine(release));
        return 0;
      }
      case 'status': {
        const view = await api.status(requireId(id, command));
        if (values.json || !view.status) io.out(JSON.stringify(view, null, 2));
        else for (const line of [`runtime ${view.runtimeStatus}, phase ${view.status.phase}`, progressBar(view.status), ...summary(view.status).slice(1)]) io.out(line);
        return 0;
      }
      case 'watch':
        return await watch(requireId(id, command));
      default: {
        if (!releaseActions.includes(command as ReleaseAction)) throw new UsageError(`unknown command "${command}"`);
        await api.act(requireId(id, command), command as ReleaseAction, values.reason);
        io.out(`${command} sent to release ${id ?? ''}`);
        return 0;
      }
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${error.message}\n\n${usage}`);
      return 2;
    }
    if (error instanceof ApiError) {
      io.err(error.message);
      return 2;
    }
    throw error;
  }
}

class UsageError extends Error {}

function requireId(id: string | undefined, command: string): string {
  if (!id) throw new UsageError(`${command} needs a release id`);
  return id;
}

function parseModel(text: string): { name: string; version: string } {
  const at = text.lastIndexOf(':');
  if (at <= 0 || at === text.length - 1) throw new UsageError(`--model "${text}" is invalid: expected NAME:VERSION, for example sklearn_regression_model:20`);
  return { name: text.slice(0, at), version: text.slice(at + 1) };
}

if (require.main === module) {
  runCli(process.argv.slice(2), { out: (l) => console.log(l), err: (l) => console.error(l), env: process.env }).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`mlrelease failed: ${(error as Error).stack ?? String(error)}`);
      process.exit(2);
    },
  );
}

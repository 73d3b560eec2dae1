import type { ReleaseStatus } from '../contracts/phases';
import { terminalPhases } from '../contracts/phases';
import type { ReleaseApiClient } from './client';
import { ApiError } from './client';
import { summary, WatchRenderer } from './render';

export interface WatchOptions {
  intervalMs?: number;
  /** Gives up after this long; the release keeps running. */
  timeoutMs?: number;
  print: (line: string) => void;
  sleep?: (ms: number) => Promise<void>;
}

/** Outcome of a watch: the finished release, or the reason the watch gave up. */
export type WatchResult = { finished: true; status: ReleaseStatus } | { finished: false; reason: string };

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls a release until it reaches a terminal phase, printing each phase
 * change, the progress bar and every analysis, then the summary.
 */
export async function watchRelease(api: Pick<ReleaseApiClient, 'status'>, releaseId: string, options: WatchOptions): Promise<WatchResult> {
  const renderer = new WatchRenderer();
  const sleep = options.sleep ?? defaultSleep;
  const deadline = Date.now() + (options.timeoutMs ?? 60 * 60 * 1000);
  let startedAt: string | undefined;
  let misses = 0;

  while (Date.now() < deadline) {
    let view;
    try {
      view = await api.status(releaseId);
      misses = 0;
    } catch (error) {
      // A release that intake accepted may not be visible for a moment; give up after 30 misses.
      if (!(error instanceof ApiError) || error.status !== 404 || ++misses > 30) throw error;
      await sleep(options.intervalMs ?? 1000);
      continue;
    }
    const status = view.status;
    if (status) {
      startedAt ??= view.createdTime ?? status.updatedAt;
      for (const line of renderer.update(status)) options.print(line);
      if (terminalPhases.includes(status.phase)) {
        for (const line of summary(status, startedAt)) options.print(line);
        return { finished: true, status };
      }
    }
    if (['Failed', 'Terminated', 'Canceled'].includes(view.runtimeStatus)) {
      return { finished: false, reason: `orchestration ${releaseId} is ${view.runtimeStatus} without a terminal release phase: read the function host log for this instance id` };
    }
    await sleep(options.intervalMs ?? 1000);
  }
  return { finished: false, reason: `release ${releaseId} did not finish within the watch timeout; it keeps running, watch it again later` };
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { getStatus, type InstanceStatus, makeAppDir, startOrchestration, startTestHost, type TestHost, waitForStatus } from './helpers';

const hosts: TestHost[] = [];

afterAll(async () => {
  for (const host of hosts) await host.kill();
});

function count(status: InstanceStatus, type: string): number {
  return (status.historyEvents ?? []).filter((e) => e.EventType === type).length;
}

describe('durability', () => {
  test('sigkill at several points loses nothing', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'devhost-kill-'));
    const runLog = path.join(stateDir, 'runs.log');
    const appDir = makeAppDir({ DEVHOST_TEST_RUN_LOG: runLog });
    const start = async () => {
      const host = await startTestHost({ appDir, stateDir, clock: 'real' });
      hosts.push(host);
      return host;
    };

    let host = await start();
    const id = await startOrchestration(host, 'durableSteps', { steps: 4, ms: 400 }, 'crash-1');
    // Kill point 1: right after the start was accepted, before any activity finished.
    await host.kill();

    const killPoints: ((s: InstanceStatus) => boolean)[] = [
      (s) => count(s, 'TaskCompleted') >= 1, // while step-1 runs
      (s) => count(s, 'TaskScheduled') >= 7, // while the fan-out runs
      (s) => count(s, 'TimerCreated') >= 1, // while the durable timer waits
    ];
    for (const reached of killPoints) {
      host = await start();
      await waitForStatus(host, id, reached, 30000);
      await host.kill();
    }

    host = await start();
    const status = await waitForStatus(host, id, undefined, 30000);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual(['step-0', 'step-1', 'step-2', 'step-3', 'fan-0', 'fan-1', 'fan-2']);

    // Every activity result is recorded once, under its own task id.
    const completions = (status.historyEvents ?? []).filter((e) => e.EventType === 'TaskCompleted').map((e) => e.TaskScheduledId);
    expect(completions.sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(count(status, 'TaskScheduled')).toBe(7);
    expect(count(status, 'TimerFired')).toBe(1);

    // Activities interrupted by a kill ran again; none was skipped.
    const runs = fs.readFileSync(runLog, 'utf8').trim().split('\n');
    for (const tag of status.output as string[]) expect(runs).toContain(tag);
    expect(runs.length).toBeGreaterThan(7);
    expect((await getStatus(host, id)).runtimeStatus).toBe('Completed');
  }, 180000);
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { request, startTestHost, type TestHost } from './helpers';

const hosts: TestHost[] = [];

afterAll(async () => {
  for (const host of hosts) await host.stop();
});

async function ticks(host: TestHost): Promise<{ body: { isPastDue: boolean } }[]> {
  return (await request(`${host.url}/admin/devhost/servicebus/queues/ticks/messages`)).body as { body: { isPastDue: boolean } }[];
}

describe('timer trigger', () => {
  test('fires on schedule and past due after downtime', async () => {
    const first = await startTestHost({ clock: 'real', values: { YEARLY_SCHEDULE: '*/1 * * * * *' } });
    hosts.push(first);
    const deadline = Date.now() + 5000;
    while ((await ticks(first)).length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await ticks(first))[0]?.body.isPastDue).toBe(false);
    await first.stop();

    // The next occurrence passes while the host is down, so the restart fires once with isPastDue.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const second = await startTestHost({ clock: 'real', appDir: first.appDir, stateDir: first.stateDir });
    hosts.push(second);
    const restartDeadline = Date.now() + 5000;
    while (!(await ticks(second)).some((t) => t.body.isPastDue) && Date.now() < restartDeadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await ticks(second)).some((t) => t.body.isPastDue)).toBe(true);
  });

  test('invalid schedule stops start-up', async () => {
    await expect(startTestHost({ values: { YEARLY_SCHEDULE: '0 0 * * *' } })).rejects.toThrow(/Timer trigger of function 'yearly'.*six fields/s);
  });

  test('app load error stops start-up', async () => {
    const appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'devhost-bad-'));
    fs.writeFileSync(path.join(appDir, 'package.json'), JSON.stringify({ main: 'entry.js' }));
    fs.writeFileSync(path.join(appDir, 'entry.js'), "throw new Error('Invalid settings: RELEASE_POLICY_FILE is missing');\n");
    await expect(startTestHost({ appDir })).rejects.toThrow(/exited during start-up \(code 1.*The app failed to load from entry\.js: Invalid settings: RELEASE_POLICY_FILE is missing/s);
  });
});

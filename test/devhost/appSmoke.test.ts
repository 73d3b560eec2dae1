import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startDevhost } from '../../devhost/index';
import { request } from './helpers';

const root = path.resolve(__dirname, '..', '..');
const entry = path.join(root, 'dist', 'src', 'index.js');
const sample = JSON.parse(fs.readFileSync(path.join(root, 'local.settings.sample.json'), 'utf8')) as { Values: Record<string, string> };
// The real app is built by its owners; without its compiled entry point there is nothing to load.
const withApp = fs.existsSync(entry) ? describe : describe.skip;

withApp('release app under devhost', () => {
  test('loads with sample settings', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'devhost-smoke-'));
    const host = await startDevhost({ appDir: root, stateDir, port: 0, env: sample.Values, startTimeoutMs: 90000 });
    try {
      const functions = (await request(`${host.url}/admin/functions`)).body as { name: string; trigger: string }[];
      const triggers = new Set(functions.map((f) => f.trigger));
      expect(triggers.has('httpTrigger')).toBe(true);
      expect(triggers.has('orchestrationTrigger')).toBe(true);
      expect(triggers.has('activityTrigger')).toBe(true);
    } finally {
      await host.stop();
    }
  }, 120000);

  test('bad settings stop start-up', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'devhost-smoke-'));
    const env = { ...sample.Values, RELEASE_POLICY_FILE: path.join(stateDir, 'missing-policy.yaml') };
    await expect(startDevhost({ appDir: root, stateDir, port: 0, env, startTimeoutMs: 90000 })).rejects.toThrow(/exited during start-up \(code 1.*The app failed to load/s);
  }, 120000);
});

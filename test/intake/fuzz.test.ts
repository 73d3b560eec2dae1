/**
 * Mutates fixture payloads and sends them through every trigger: webhooks
 * must respond with 2xx or 4xx, and Event Grid functions must never fail on input.
 * The seed is fixed so that a failure can be replayed; INTAKE_FUZZ_SEED
 * overrides it.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

import { signGitHubBody } from '../../src/auth/hmac';
import { handleContainerRegistryEvent, handleModelRegistryEvent } from '../../src/functions/eventGrid';
import { handleAzureDevOpsWebhook, handleGitHubWebhook } from '../../src/functions/webhooks';
import { devOpsRequest, fixtureBytes, fixturesDir, githubRequest, githubSecret, type Harness, startHarness } from './helpers';

const seed = Number(process.env.INTAKE_FUZZ_SEED ?? 0x5eed1234);
const casesPerTrigger = 300;

/** mulberry32: a small seeded PRNG, good enough to pick mutations reproducibly. */
function random(seedValue: number): () => number {
  let a = seedValue >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const oddValues: Json[] = [null, 0, -1, 1e308, 20.5, '', ' ', 'sha256:', `sha256:${'A'.repeat(64)}`, 'refs/heads/', 'a|b', '\u0000\u202e\ud83d\ude00', 'x'.repeat(5000), true, [], {}, [null], { '': '' }, '0'.repeat(40)];

class Mutator {
  constructor(readonly next: () => number) {}

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Returns a mutated copy: a value replaced, a key dropped or re-cased, or the shape wrapped. */
  mutate(value: Json, depth = 0): Json {
    const roll = this.next();
    if (value === null || typeof value !== 'object') return roll < 0.5 ? this.pick(oddValues) : value;
    if (Array.isArray(value)) {
      if (value.length === 0 || roll < 0.1) return roll < 0.05 ? this.pick(oddValues) : [...value, this.pick(oddValues)];
      const index = Math.floor(this.next() * value.length);
      return value.map((item, i) => (i === index ? this.mutate(item, depth + 1) : item));
    }
    const keys = Object.keys(value);
    if (keys.length === 0) return this.pick(oddValues);
    const key = this.pick(keys);
    const copy: { [key: string]: Json } = { ...value };
    if (roll < 0.15) {
      delete copy[key];
    } else if (roll < 0.3) {
      const inner = copy[key]!;
      delete copy[key];
      copy[this.pick([key.toUpperCase(), key.toLowerCase(), key.replace(/([A-Z])/g, '_$1'), `${key[0]?.toUpperCase() ?? ''}${key.slice(1)}`])] = inner;
    } else if (roll < 0.4) {
      copy[key] = this.pick(oddValues);
    } else if (roll < 0.45 && depth === 0) {
      return [copy, this.pick(oddValues)];
    } else {
      copy[key] = this.mutate(copy[key]!, depth + 1);
    }
    return copy;
  }

  /** Returns raw bytes: usually the mutated JSON, sometimes truncated or with a byte flipped. */
  bytes(value: Json): Buffer {
    const text = Buffer.from(JSON.stringify(this.mutate(value)), 'utf8');
    const roll = this.next();
    if (roll < 0.1) return text.subarray(0, Math.floor(this.next() * text.length));
    if (roll < 0.2 && text.length > 0) {
      const copy = Buffer.from(text);
      const at = Math.floor(this.next() * copy.length);
      copy[at] = Math.floor(this.next() * 256);
      return copy;
    }
    return text;
  }
}

function corpus(dirs: string[]): Json[] {
  return dirs.flatMap((dir) => readdirSync(join(fixturesDir, dir)).map((file) => JSON.parse(fixtureBytes(`${dir}/${file}`).toString('utf8')) as Json));
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.server.stop();
});

const eventFixtures = corpus(['azureml', 'acr', 'cloudevents', 'eventgrid']);
const githubFixtures = corpus(['github']);
const devOpsFixtures = corpus(['azure-devops']);
const githubEvents = ['push', 'release', 'ping', 'workflow_run', 'registry_package', ''];

describe(`intake fuzz, seed ${seed}`, () => {
  test('Event Grid functions never fail on input', async () => {
    const m = new Mutator(random(seed));
    const failures: string[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < casesPerTrigger; i++) {
      const input = m.mutate(m.pick(eventFixtures));
      const handler = i % 2 === 0 ? handleModelRegistryEvent : handleContainerRegistryEvent;
      const outcomes = await handler(input, h.deps).catch((error: unknown) => void failures.push(`case ${i}: ${String(error)} for ${JSON.stringify(input).slice(0, 300)}`));
      for (const o of outcomes ?? []) seen.add(o.outcome);
    }
    expect(failures).toEqual([]);
    // The mutations must reach every branch, or the test proves nothing.
    expect([...seen].sort()).toEqual(expect.arrayContaining(['ignored', 'rejected', 'started']));
  });

  test('Event Grid functions accept any delivery shape', async () => {
    const m = new Mutator(random(seed + 1));
    const failures: string[] = [];
    for (let i = 0; i < casesPerTrigger; i++) {
      const base = m.pick(eventFixtures);
      const input = m.mutate(m.mutate(m.mutate(base)));
      const outcomes = await handleContainerRegistryEvent(input, h.deps).catch((error: unknown) => void failures.push(`case ${i}: ${String(error)}`));
      if (outcomes && outcomes.some((o) => o.outcome === 'rejected' && o.problems.some((p) => p.field === '' || p.expected === ''))) failures.push(`case ${i}: rejection without field or expectation`);
    }
    expect(failures).toEqual([]);
  });

  test('GitHub webhook answers 2xx or 4xx', async () => {
    const m = new Mutator(random(seed + 2));
    const failures: string[] = [];
    const statuses = new Set<number>();
    for (let i = 0; i < casesPerTrigger; i++) {
      const body = m.bytes(m.pick(githubFixtures));
      const form = m.next() < 0.2;
      const raw = form ? Buffer.from(`payload=${encodeURIComponent(body.toString('latin1'))}`, 'latin1') : body;
      const signature = m.next() < 0.9 ? signGitHubBody(raw, githubSecret) : m.pick([null, 'sha256=', `sha256=${'0'.repeat(64)}`]);
      const request = githubRequest(raw, { event: m.pick(githubEvents), signature, contentType: form ? 'application/x-www-form-urlencoded' : m.pick(['application/json', 'application/json; charset=utf-8', 'text/plain']) });
      const response = await handleGitHubWebhook(request, h.deps).catch((error: unknown) => ({ status: 599, jsonBody: String(error) }));
      const status = response.status ?? 200;
      statuses.add(status);
      if (status < 200 || status >= 500) failures.push(`case ${i}: ${status} ${JSON.stringify(response.jsonBody).slice(0, 300)}`);
    }
    expect(failures).toEqual([]);
    expect([...statuses]).toEqual(expect.arrayContaining([200, 202, 400, 401, 415]));
  });

  test('Azure DevOps webhook answers 2xx or 4xx', async () => {
    const m = new Mutator(random(seed + 3));
    const failures: string[] = [];
    const statuses = new Set<number>();
    for (let i = 0; i < casesPerTrigger; i++) {
      const response = await handleAzureDevOpsWebhook(devOpsRequest(m.bytes(m.pick(devOpsFixtures))), h.deps).catch((error: unknown) => ({ status: 599, jsonBody: String(error) }));
      const status = response.status ?? 200;
      statuses.add(status);
      if (status < 200 || status >= 500) failures.push(`case ${i}: ${status} ${JSON.stringify(response.jsonBody).slice(0, 300)}`);
    }
    expect(failures).toEqual([]);
    expect([...statuses]).toEqual(expect.arrayContaining([200, 202, 400]));
  });
});

/**
 * Conformance app for devhost: small functions that exercise every Durable
 * action, retry, failure, timer, event and entity path, plus HTTP, Event Grid,
 * timer and Service Bus triggers. Tests load its compiled form
 * (dist/test/devhost/app/index.js) through a generated package.json.
 */
import { app, HttpRequest, HttpResponse, type InvocationContext, output } from '@azure/functions';
import * as df from 'durable-functions';
import { appendFileSync } from 'node:fs';

type Orchestration = df.OrchestrationHandler;

// ---- activities --------------------------------------------------------------

df.app.activity('echo', { handler: (input: unknown) => ({ echoed: input }) });
df.app.activity('noop', { handler: (input: unknown) => input });
df.app.activity('alwaysFails', {
  handler: (input: unknown) => {
    throw new Error(`alwaysFails rejected ${JSON.stringify(input)}`);
  },
});

// Attempts per key live in module state, so "flaky" fails the first `failures` calls in this process.
const attempts = new Map<string, number>();
df.app.activity('flaky', {
  handler: (input: { key: string; failures: number }) => {
    const seen = (attempts.get(input.key) ?? 0) + 1;
    attempts.set(input.key, seen);
    if (seen <= input.failures) throw new Error(`flaky attempt ${seen} of ${input.key} failed`);
    return { key: input.key, attempt: seen };
  },
});

// Sleeps in real time, so a test can kill devhost while the activity runs.
df.app.activity('slow', {
  handler: async (input: { ms: number; tag: string }) => {
    // The durability test counts runs per tag to see that an interrupted activity runs again.
    const runLog = process.env.DEVHOST_TEST_RUN_LOG;
    if (runLog) appendFileSync(runLog, `${input.tag}\n`);
    await new Promise((resolve) => setTimeout(resolve, input.ms));
    return input.tag;
  },
});

// Reports the most activities this process ran at once, to check the concurrency limit.
let activeProbes = 0;
let maxActiveProbes = 0;
df.app.activity('probeConcurrency', {
  handler: async (ms: number) => {
    activeProbes += 1;
    maxActiveProbes = Math.max(maxActiveProbes, activeProbes);
    await new Promise((resolve) => setTimeout(resolve, ms));
    activeProbes -= 1;
    return maxActiveProbes;
  },
});

df.app.orchestration('fanOut', function* (context) {
  const input = context.df.getInput<{ count: number; ms: number }>();
  const seen = (yield context.df.Task.all(Array.from({ length: input.count }, () => context.df.callActivity('probeConcurrency', input.ms)))) as number[];
  return Math.max(...seen);
});

// An activity with a durable client input, as the release pipeline uses to reach other instances.
df.app.activity('raiseOnOther', {
  extraInputs: [df.input.durableClient()],
  handler: async (input: { instanceId: string; eventName: string; data: unknown }, context: InvocationContext) => {
    const client = df.getClient(context);
    await client.raiseEvent(input.instanceId, input.eventName, input.data);
    return 'raised';
  },
});

// An activity that publishes on the release-events topic through an output binding, as the pipeline does.
const activityEvents = output.serviceBusTopic({ topicName: '%RELEASE_EVENTS_TOPIC%', connection: 'ServiceBusConnection' });
df.app.activity('publishEvent', {
  extraOutputs: [activityEvents],
  handler: (input: { kind: string }, context: InvocationContext) => {
    context.extraOutputs.set(activityEvents, [{ kind: input.kind, seq: 1 }, { kind: input.kind, seq: 2 }]);
    return 'published';
  },
});

df.app.orchestration('publisher', function* (context) {
  return (yield context.df.callActivity('publishEvent', { kind: context.df.getInput<string>() })) as string;
});

// ---- entities ------------------------------------------------------------------

df.app.entity('counter', (context) => {
  const value = context.df.getState(() => 0) as number;
  switch (context.df.operationName) {
    case 'add':
      context.df.setState(value + (context.df.getInput() as number));
      break;
    case 'get':
      context.df.return(value);
      break;
    case 'addAndForward': {
      context.df.setState(value + 1);
      context.df.signalEntity(new df.EntityId('counter', 'forwarded'), 'add', 10);
      break;
    }
    case 'fail':
      throw new Error('counter operation failed');
    case 'delete':
      context.df.destructOnExit();
      break;
    default:
      throw new Error(`unknown counter operation ${context.df.operationName}`);
  }
});

// ---- orchestrations ------------------------------------------------------------

const retry = (first: number, max: number) => new df.RetryOptions(first, max);

/** The task-id sequence of the durable-functions 3.5.0 protocol, in one orchestration. */
const conformance: Orchestration = function* (context) {
  const key = String(context.df.getInput<{ key: string }>()?.key ?? context.df.instanceId);
  const first = (yield context.df.callActivity('echo', 'Tokyo')) as unknown;
  const retried = (yield context.df.callActivityWithRetry('flaky', retry(1000, 3), { key, failures: 1 })) as unknown;
  const both = (yield context.df.Task.all([context.df.callActivity('echo', 1), context.df.callActivity('echo', 2)])) as unknown[];
  context.df.signalEntity(new df.EntityId('counter', key), 'add', 5);
  const deadline = new Date(context.df.currentUtcDateTime.getTime() + 60 * 60 * 1000);
  const timer = context.df.createTimer(deadline);
  const event = context.df.waitForExternalEvent('go');
  const winner = (yield context.df.Task.any([event, timer])) as df.Task;
  if (winner === event) timer.cancel();
  const count = (yield context.df.callEntity(new df.EntityId('counter', key), 'get')) as number;
  const child = (yield context.df.callSubOrchestrator('child', 21)) as number;
  const eventResult = event.result;
  return { first, retried, both, winner: winner === event ? { event: eventResult } : 'timer', count, child };
};
df.app.orchestration('conformance', conformance);

df.app.orchestration('child', function* (context) {
  const value = context.df.getInput<number>();
  const echoed = (yield context.df.callActivity('echo', value)) as { echoed: number };
  return echoed.echoed * 2;
});

df.app.orchestration('failingChild', function* (context) {
  yield context.df.callActivity('alwaysFails', 'child');
  return 'not reached';
});

df.app.orchestration('retryExhausted', function* (context) {
  try {
    yield context.df.callActivityWithRetry('alwaysFails', retry(500, 2), 'x');
    return 'unexpected success';
  } catch (error) {
    return { caught: error instanceof Error ? error.message : String(error) };
  }
});

df.app.orchestration('failsUnhandled', function* (context) {
  yield context.df.callActivity('alwaysFails', 'boom');
  return 'not reached';
});

df.app.orchestration('subOrchestrationFailure', function* (context) {
  try {
    yield context.df.callSubOrchestratorWithRetry('failingChild', retry(100, 2), null);
    return 'unexpected success';
  } catch (error) {
    return { caught: error instanceof Error ? error.message : String(error) };
  }
});

/** Approval gate: an event raced against a timer; the loser is cancelled. */
df.app.orchestration('approvalGate', function* (context) {
  const minutes = context.df.getInput<{ minutes: number }>()?.minutes ?? 30;
  context.df.setCustomStatus({ phase: 'waiting' });
  const timer = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + minutes * 60_000));
  const approval = context.df.waitForExternalEvent('approval');
  const winner = (yield context.df.Task.any([approval, timer])) as df.Task;
  if (winner === approval) {
    timer.cancel();
    context.df.setCustomStatus({ phase: 'approved' });
    return { decision: approval.result, at: context.df.currentUtcDateTime.toISOString() };
  }
  context.df.setCustomStatus({ phase: 'timedOut' });
  return { decision: 'timeout', at: context.df.currentUtcDateTime.toISOString() };
});

// Ten days is longer than maximumShortTimerDuration, so durable-functions waits in three-day steps.
df.app.orchestration('longTimer', function* (context) {
  const started = context.df.currentUtcDateTime.getTime();
  yield context.df.createTimer(new Date(started + 10 * 86_400_000));
  const echoed = (yield context.df.callActivity('echo', 'after')) as unknown;
  return { echoed, waitedMs: context.df.currentUtcDateTime.getTime() - started };
});

df.app.orchestration('loop', function* (context) {
  const n = context.df.getInput<number>() ?? 0;
  yield context.df.callActivity('noop', n);
  if (n < 3) {
    context.df.continueAsNew(n + 1);
    return undefined;
  }
  return `done at ${n}`;
});

df.app.orchestration('entityPaths', function* (context) {
  const key = context.df.instanceId;
  const counter = new df.EntityId('counter', key);
  yield context.df.callEntity(counter, 'add', 2);
  yield context.df.callEntity(counter, 'addAndForward');
  const value = (yield context.df.callEntity(counter, 'get')) as number;
  let failure = '';
  try {
    yield context.df.callEntity(counter, 'fail');
  } catch (error) {
    failure = error instanceof Error ? 'caught' : 'not an error';
  }
  return { value, failure };
});

df.app.orchestration('sequence', function* (context) {
  const steps = context.df.getInput<number>() ?? 10;
  for (let i = 0; i < steps; i++) yield context.df.callActivity('noop', i);
  return steps;
});

/** Runs `slow` activities in a row; the durability tests kill devhost between and during them. */
df.app.orchestration('durableSteps', function* (context) {
  const input = context.df.getInput<{ steps: number; ms: number }>();
  const results: string[] = [];
  for (let i = 0; i < input.steps; i++) results.push((yield context.df.callActivity('slow', { ms: input.ms, tag: `step-${i}` })) as string);
  const fanOut = (yield context.df.Task.all([0, 1, 2].map((i) => context.df.callActivity('slow', { ms: input.ms, tag: `fan-${i}` })))) as string[];
  yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 1000));
  return [...results, ...fanOut];
});

// Calls a different activity on replay than on the first run: a deliberate non-determinism.
const firstRuns = new Set<string>();
df.app.orchestration('nonDeterministic', function* (context) {
  const seenBefore = firstRuns.has(context.df.instanceId);
  firstRuns.add(context.df.instanceId);
  yield context.df.callActivity(seenBefore ? 'noop' : 'echo', 1);
  yield context.df.callActivity('echo', 2);
  return 'not reached';
});

df.app.orchestration('waitForTwo', function* (context) {
  const a = (yield context.df.waitForExternalEvent('a')) as unknown;
  const b = (yield context.df.waitForExternalEvent('b')) as unknown;
  return [a, b];
});

df.app.orchestration('raiser', function* (context) {
  const target = context.df.getInput<string>();
  return (yield context.df.callActivity('raiseOnOther', { instanceId: target, eventName: 'a', data: 'from-activity' })) as string;
});

// ---- client and trigger functions ------------------------------------------------

df.app.client.http('startOrchestration', {
  route: 'orchestrators/{name}/{instanceId?}',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: async (request: HttpRequest, client: df.DurableClient) => {
    const body = await request.text();
    const instanceId = await client.startNew(request.params.name ?? '', { instanceId: request.params.instanceId, input: body.length > 0 ? JSON.parse(body) : undefined });
    return client.createCheckStatusResponse(request, instanceId);
  },
});

df.app.client.http('clientStatus', {
  route: 'status/{instanceId}',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async (request: HttpRequest, client: df.DurableClient) => {
    const status = await client.getStatus(request.params.instanceId ?? '');
    return { jsonBody: { runtimeStatus: status.runtimeStatus, output: status.output, customStatus: status.customStatus } };
  },
});

app.http('httpEcho', {
  route: 'echo/{id:int}/{tail?}',
  methods: ['GET', 'POST', 'PUT'],
  authLevel: 'anonymous',
  handler: async (request: HttpRequest) => {
    const body = Buffer.from(await request.arrayBuffer());
    return new HttpResponse({
      status: 200,
      body,
      headers: {
        'x-params': JSON.stringify(request.params),
        'x-query': JSON.stringify(Object.fromEntries(request.query.entries())),
        'x-method': request.method,
        'content-type': request.headers.get('content-type') ?? 'application/octet-stream',
      },
    });
  },
});

app.http('httpKeyed', { route: 'keyed', methods: ['GET'], authLevel: 'function', handler: () => ({ status: 200, body: 'keyed ok' }) });
app.http('httpAdminOnly', { route: 'adminonly', methods: ['GET'], authLevel: 'admin', handler: () => ({ status: 200, body: 'admin ok' }) });
app.http('httpThrows', {
  route: 'throws',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: () => {
    throw new Error('httpThrows failed on purpose');
  },
});

const gridSeen = output.serviceBusQueue({ queueName: 'grid-seen', connection: 'ServiceBusConnection' });
app.eventGrid('gridSink', {
  extraOutputs: [gridSeen],
  handler: (event, context) => {
    const data = (event.data ?? {}) as { fail?: boolean };
    if (data.fail) throw new Error(`gridSink rejected event ${event.id}`);
    context.extraOutputs.set(gridSeen, { id: event.id, type: event.eventType ?? (event as unknown as { type?: string }).type });
  },
});

const ticks = output.serviceBusQueue({ queueName: 'ticks', connection: 'ServiceBusConnection' });
app.timer('yearly', {
  schedule: '%YEARLY_SCHEDULE%',
  extraOutputs: [ticks],
  handler: (timer, context) => {
    context.extraOutputs.set(ticks, { isPastDue: timer.isPastDue, hasStatus: timer.scheduleStatus !== undefined });
  },
});

const startupTicks = output.serviceBusQueue({ queueName: 'startup-ticks', connection: 'ServiceBusConnection' });
app.timer('startupTimer', {
  schedule: '0 0 0 1 1 *',
  runOnStartup: true,
  extraOutputs: [startupTicks],
  handler: (timer, context) => {
    context.extraOutputs.set(startupTicks, { isPastDue: timer.isPastDue });
  },
});

const releaseEvents = output.serviceBusTopic({ topicName: '%RELEASE_EVENTS_TOPIC%', connection: 'ServiceBusConnection' });
app.serviceBusQueue('workQueue', {
  queueName: 'work',
  connection: 'ServiceBusConnection',
  extraOutputs: [releaseEvents],
  handler: (message: unknown, context: InvocationContext) => {
    const body = message as { fail?: boolean; note?: string };
    if (body.fail) throw new Error('workQueue rejected the message');
    context.extraOutputs.set(releaseEvents, {
      note: body.note,
      messageId: context.triggerMetadata?.messageId,
      deliveryCount: context.triggerMetadata?.deliveryCount,
      applicationProperties: context.triggerMetadata?.applicationProperties,
    });
  },
});

const batchSeen = output.serviceBusQueue({ queueName: 'batch-seen', connection: 'ServiceBusConnection' });
app.serviceBusQueue('batchQueue', {
  queueName: 'batch',
  connection: 'ServiceBusConnection',
  cardinality: 'many',
  extraOutputs: [batchSeen],
  handler: (messages: unknown, context: InvocationContext) => {
    context.extraOutputs.set(batchSeen, { bodies: messages, messageIds: context.triggerMetadata?.messageIdArray });
  },
});

app.serviceBusTopic('auditSubscription', {
  topicName: '%RELEASE_EVENTS_TOPIC%',
  subscriptionName: 'audit',
  connection: 'ServiceBusConnection',
  handler: () => undefined,
});

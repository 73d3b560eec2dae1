import { parseContainerRegistryEvent } from '../../src/events/acr';
import { parseModelRegistryEvent } from '../../src/events/azureml';
import { type EventEnvelope, parseEnvelope } from '../../src/events/envelope';

function envelope(value: unknown): EventEnvelope {
  const parsed = parseEnvelope(value);
  if (!parsed.ok) throw new Error(`envelope rejected: ${parsed.reason}`);
  return parsed.event;
}

const registered = (data: unknown, extra: Record<string, unknown> = {}): EventEnvelope =>
  envelope({ id: 'e1', eventType: 'Microsoft.MachineLearningServices.ModelRegistered', subject: 'models/m:3', eventTime: '2026-01-01T00:00:00Z', data, dataVersion: '', ...extra });

describe('model event parsing', () => {
  test.each([
    ['PascalCase', { ModelName: 'm', ModelVersion: 3 }],
    ['camelCase', { modelName: 'm', modelVersion: '3' }],
    ['snake_case', { model_name: 'm', model_version: 3 }],
    ['subject only', {}],
  ])('%s keys give the same model', (_name, data) => {
    expect(parseModelRegistryEvent(registered(data))).toEqual({ kind: 'model', model: { name: 'm', version: '3' } });
  });

  test('conflicting spellings are rejected', () => {
    const parsed = parseEnvelope({ id: 'e1', eventType: 'x', EventType: 'y', data: {} });
    expect(parsed).toMatchObject({ ok: false, field: 'EventType' });
  });

  test('name with a pipe is rejected', () => {
    expect(parseModelRegistryEvent(registered({ ModelName: 'a|b', ModelVersion: 1 }))).toMatchObject({ kind: 'outcome', outcome: { outcome: 'rejected', problems: [{ field: 'data.ModelName' }] } });
  });

  test('workspace comes from the topic', () => {
    const topic = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ml-prod';
    expect(parseModelRegistryEvent(registered({ ModelName: 'm', ModelVersion: 3 }, { topic }))).toMatchObject({ model: { workspaceId: topic } });
  });
});

describe('envelope parsing', () => {
  test('CloudEvents 1.0 with base64 JSON data', () => {
    const data = Buffer.from(JSON.stringify({ ModelName: 'm', ModelVersion: 1 })).toString('base64');
    const event = envelope({ specversion: '1.0', id: 'c1', type: 'T', source: '/s', data_base64: data });
    expect(event).toMatchObject({ schema: 'cloudevents', data: { ModelName: 'm', ModelVersion: 1 }, warnings: [] });
  });

  test('CloudEvents 0.3 is unsupported', () => {
    expect(parseEnvelope({ specversion: '0.3', id: 'c1', type: 'T', source: '/s' })).toMatchObject({ ok: false, reason: 'CloudEvents version "0.3" is not supported' });
  });

  test('CloudEvent without source is rejected', () => {
    expect(parseEnvelope({ specversion: '1.0', id: 'c1', type: 'T' })).toMatchObject({ ok: false, field: 'source' });
  });

  test('non-object event is rejected', () => {
    expect(parseEnvelope('text')).toMatchObject({ ok: false, reason: 'event is string, not a JSON object' });
  });
});

describe('image event parsing', () => {
  const pushed = (target: Record<string, unknown>, extra: Record<string, unknown> = {}): EventEnvelope =>
    envelope({ id: 'e1', eventType: 'Microsoft.ContainerRegistry.ImagePushed', subject: 'repo:1.0', topic: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/ContosoCR', data: { target, ...extra } });
  const digest = `sha256:${'e'.repeat(64)}`;

  test('registry name from the topic when the host is missing', () => {
    expect(parseContainerRegistryEvent(pushed({ digest, repository: 'repo', tag: '1.0' }))).toEqual({ kind: 'push', push: { registryName: 'contosocr', repository: 'repo', digest, tag: '1.0' } });
  });

  test('tag comes from the subject when the target has none', () => {
    expect(parseContainerRegistryEvent(pushed({ digest, repository: 'repo' }))).toMatchObject({ push: { tag: '1.0' } });
  });

  test('OCI index is an image', () => {
    expect(parseContainerRegistryEvent(pushed({ digest, repository: 'repo', mediaType: 'application/vnd.oci.image.index.v1+json' }))).toMatchObject({ kind: 'push' });
  });

  test('signature artifact is ignored', () => {
    expect(parseContainerRegistryEvent(pushed({ digest, repository: 'repo', mediaType: 'application/vnd.cncf.notary.signature' }))).toMatchObject({ outcome: { outcome: 'ignored' } });
  });

  test('uppercase digest is rejected', () => {
    expect(parseContainerRegistryEvent(pushed({ digest: digest.toUpperCase(), repository: 'repo' }))).toMatchObject({ outcome: { outcome: 'rejected', problems: [{ field: 'data.target.digest' }] } });
  });
});

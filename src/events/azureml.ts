import type { ModelRef } from '../contracts/release';
import { ignored, type IntakeOutcome, rejectedField } from '../intake/outcome';
import type { EventEnvelope } from './envelope';
import { field, isKeySafe, isObject } from './fields';

export const modelRegisteredType = 'Microsoft.MachineLearningServices.ModelRegistered';
const mlPrefix = 'microsoft.machinelearningservices.';

export type ModelEventResult = { kind: 'model'; model: ModelRef } | { kind: 'outcome'; outcome: IntakeOutcome };

const outcome = (value: IntakeOutcome): ModelEventResult => ({ kind: 'outcome', outcome: value });

/**
 * Reads the model name and version from an Azure ML event. Only
 * ModelRegistered starts a release; other event types come back as ignored.
 * Data keys are matched by meaning (`ModelName`, `modelName`), and a numeric
 * version becomes a string, because Azure ML versions are strings.
 */
export function parseModelRegistryEvent(event: EventEnvelope): ModelEventResult {
  const type = event.type.toLowerCase();
  if (type !== modelRegisteredType.toLowerCase()) {
    return outcome(ignored(type.startsWith(mlPrefix) ? `Azure ML event type ${event.type} does not start a release` : `event type ${event.type} is not an Azure ML model registry event`));
  }
  if (!isObject(event.data)) {
    return outcome(rejectedField('data', `is ${JSON.stringify(event.data) ?? 'missing'}`, 'an object with ModelName and ModelVersion'));
  }

  const fromSubject = /^models\/([^:/]+):([^:/]+)$/.exec(event.subject ?? '');
  const name = field(event.data, 'modelName') ?? fromSubject?.[1];
  const rawVersion = field(event.data, 'modelVersion') ?? fromSubject?.[2];
  if (typeof name !== 'string' || !isKeySafe(name)) {
    return outcome(rejectedField('data.ModelName', `is ${JSON.stringify(name) ?? 'missing'}`, 'the registered model name: 1 to 255 characters without "|" or control characters'));
  }
  const version = typeof rawVersion === 'number' && Number.isFinite(rawVersion) ? String(rawVersion) : rawVersion;
  if (typeof version !== 'string' || !isKeySafe(version)) {
    return outcome(rejectedField('data.ModelVersion', `is ${JSON.stringify(rawVersion) ?? 'missing'}`, 'the model version as a string or number, for example "20"'));
  }

  const model: ModelRef = { name, version };
  if (event.source !== undefined && /\/workspaces\/[^/]+$/i.test(event.source)) model.workspaceId = event.source;
  return { kind: 'model', model };
}

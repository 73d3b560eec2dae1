import type { ReleasePlan } from './plan';

/** What validation reads from a model version. */
export interface ModelFacts {
  name: string;
  version: string;
  modelType?: string;
  flavors: string[];
  tags: Record<string, string>;
  properties: Record<string, string>;
  region?: string;
}

/**
 * Checks a model version against the policy and returns every reason it
 * fails, each with what to change; an empty list means it passes.
 */
export function modelVersionProblems(model: ModelFacts, rules: ReleasePlan['validation']): string[] {
  const id = `model ${model.name} version ${model.version}`;
  const problems: string[] = [];

  for (const tag of rules.requiredTags) {
    if (!(tag in model.tags)) problems.push(`${id} lacks the required tag "${tag}": add it in the registry`);
  }
  if (rules.allowedModelTypes.length > 0 && !rules.allowedModelTypes.includes(model.modelType ?? '')) {
    problems.push(`${id} has type "${model.modelType ?? '(none)'}", allowed are ${rules.allowedModelTypes.join(', ')}`);
  }
  if (rules.allowedFlavors.length > 0 && !model.flavors.some((f) => rules.allowedFlavors.includes(f))) {
    problems.push(`${id} has flavours ${model.flavors.join(', ') || '(none)'}, it needs one of ${rules.allowedFlavors.join(', ')}`);
  }
  for (const metric of rules.metrics) problems.push(...metricProblems(id, model.properties[metric.name], metric));

  if (model.region !== undefined && !rules.allowedRegions.includes(model.region)) {
    problems.push(`${id} is stored in region ${model.region}, allowed are ${rules.allowedRegions.join(', ')}`);
  }
  if (!rules.allowedRegions.includes(rules.targetRegion)) {
    problems.push(`target region ${rules.targetRegion} is not in allowedRegions (${rules.allowedRegions.join(', ')})`);
  }
  return problems;
}

function metricProblems(id: string, raw: string | undefined, metric: { name: string; min?: number; max?: number }): string[] {
  if (raw === undefined) return [`${id} has no property "${metric.name}", which the policy checks: log the metric on the version`];
  const value = Number(raw);
  if (Number.isNaN(value)) return [`${id} property "${metric.name}" is "${raw}", not a number`];
  if (metric.min !== undefined && value < metric.min) return [`${id} metric ${metric.name} ${value} is below the minimum ${metric.min}`];
  if (metric.max !== undefined && value > metric.max) return [`${id} metric ${metric.name} ${value} is above the maximum ${metric.max}`];
  return [];
}

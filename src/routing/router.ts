import type { TrafficProviderName } from '../config/policy';
import type { ReleaseTarget } from '../contracts/target';
import { PermanentError } from '../errors';

/** Share of requests on each track, in percent; the two add up to 100. */
export interface TrafficWeights {
  stable: number;
  canary: number;
}

/**
 * Moves traffic between the stable and canary Services of one endpoint.
 * Every method is idempotent: it reads the route, compares, and writes only
 * when something differs. `target.stableDeployment` must name the Deployment
 * that serves stable traffic now (the adopted one, when stable was adopted).
 */
export interface TrafficRouter {
  readonly provider: TrafficProviderName;
  /** Creates or repairs the routing objects so that both tracks are reachable; keeps the current weights. */
  reconcile(target: ReleaseTarget): Promise<void>;
  /** Reads the weights in force now; 100 % stable when no canary routing exists. */
  readWeights(target: ReleaseTarget): Promise<TrafficWeights>;
  /** Sets the canary weight and returns the weights in force afterwards, which may be rounded. */
  setWeights(target: ReleaseTarget, canaryWeight: number): Promise<TrafficWeights>;
  /** Sends 100 % of traffic to stable and removes the canary's routing objects. */
  finalise(target: ReleaseTarget): Promise<void>;
}

/** Rejects a weight that is not a whole number of percent in 0..100. */
export function checkWeight(canaryWeight: number, target: Pick<ReleaseTarget, 'endpoint'>): number {
  if (!Number.isInteger(canaryWeight) || canaryWeight < 0 || canaryWeight > 100) {
    throw new PermanentError(`canary weight ${String(canaryWeight)} for endpoint ${target.endpoint} is invalid: expected a whole number of percent from 0 to 100`);
  }
  return canaryWeight;
}

/** Weights from a canary percentage. */
export function weightsOf(canaryWeight: number): TrafficWeights {
  return { stable: 100 - canaryWeight, canary: canaryWeight };
}

/** Canary percentage from two relative weights (Gateway API weights, replica counts); 0 when both are 0. */
export function percentOf(stable: number, canary: number): TrafficWeights {
  const total = stable + canary;
  if (total <= 0) return weightsOf(0);
  return weightsOf(Math.round((100 * canary) / total));
}

/**
 * Splits `total` pods between the tracks so that the canary share is as near
 * `canaryWeight` percent as whole pods allow. Any weight between 0 and 100
 * keeps at least one pod on each track, so with one or two pods the split is
 * 50 %: callers report the weight that results, not the one requested.
 */
export function replicaSplit(total: number, canaryWeight: number): { stable: number; canary: number } {
  if (canaryWeight <= 0) return { stable: total, canary: 0 };
  if (canaryWeight >= 100) return { stable: 0, canary: total };
  const canary = Math.min(Math.max(Math.round((total * canaryWeight) / 100), 1), Math.max(total - 1, 1));
  return { stable: Math.max(total - canary, 1), canary };
}

import type { KubeClient, ObjectRef } from '../clients/kube';
import { describeRef } from '../clients/kube';
import type { V1Deployment } from '../clients/kubeModule';
import type { ReleaseTarget } from '../contracts/target';
import { PermanentError } from '../errors';
import type { TrafficRouter, TrafficWeights } from './router';
import { checkWeight, percentOf, replicaSplit, weightsOf } from './router';

function deploymentRef(target: ReleaseTarget, name: string): ObjectRef {
  return { apiVersion: 'apps/v1', kind: 'Deployment', namespace: target.namespace, name };
}

/**
 * Splits traffic by pod count, for clusters with neither Gateway API nor
 * NGINX: one Service selects the pods of both tracks, so the canary's share
 * of requests follows its share of ready pods. Weights are therefore rounded
 * to whole pods of `target.replicas`.
 * NOTE: a HorizontalPodAutoscaler on either Deployment would fight these counts; remove it for the endpoint.
 */
export class ReplicaRatioRouter implements TrafficRouter {
  readonly provider = 'replica-ratio' as const;

  constructor(private readonly kube: KubeClient) {}

  async reconcile(target: ReleaseTarget): Promise<void> {
    await this.readBoth(target);
  }

  async readWeights(target: ReleaseTarget): Promise<TrafficWeights> {
    const stable = await this.kube.read<V1Deployment>(deploymentRef(target, target.stableDeployment));
    const canary = await this.kube.read<V1Deployment>(deploymentRef(target, target.canaryDeployment));
    if (!canary) return weightsOf(0);
    return percentOf(stable?.spec?.replicas ?? 0, canary.spec?.replicas ?? 0);
  }

  async setWeights(target: ReleaseTarget, canaryWeight: number): Promise<TrafficWeights> {
    checkWeight(canaryWeight, target);
    const { canary } = await this.readBoth(target);
    const split = replicaSplit(target.replicas, canaryWeight);

    // Grow one track before shrinking the other so that serving capacity never dips.
    if (split.canary > (canary.spec?.replicas ?? 0)) {
      await this.scale(target, target.canaryDeployment, split.canary);
      await this.scale(target, target.stableDeployment, split.stable);
    } else {
      await this.scale(target, target.stableDeployment, split.stable);
      await this.scale(target, target.canaryDeployment, split.canary);
    }
    return percentOf(split.stable, split.canary);
  }

  async finalise(target: ReleaseTarget): Promise<void> {
    await this.scale(target, target.stableDeployment, target.replicas);
    const canary = await this.kube.read<V1Deployment>(deploymentRef(target, target.canaryDeployment));
    if (canary) await this.scale(target, target.canaryDeployment, 0);
  }

  private async readBoth(target: ReleaseTarget): Promise<{ stable: V1Deployment; canary: V1Deployment }> {
    const stableRef = deploymentRef(target, target.stableDeployment);
    const canaryRef = deploymentRef(target, target.canaryDeployment);
    const stable = await this.kube.read<V1Deployment>(stableRef);
    if (!stable) throw new PermanentError(`${describeRef(stableRef)} not found: the replica-ratio provider scales the stable Deployment; run ensureStable first`);
    const canary = await this.kube.read<V1Deployment>(canaryRef);
    if (!canary) throw new PermanentError(`${describeRef(canaryRef)} not found: apply the canary before setting weights`);
    return { stable, canary };
  }

  /** Sets spec.replicas with a merge patch, so that the apply set of the Deployment keeps its other fields. */
  private async scale(target: ReleaseTarget, name: string, replicas: number): Promise<void> {
    const ref = deploymentRef(target, name);
    const current = await this.kube.read<V1Deployment>(ref);
    if (!current) throw new PermanentError(`${describeRef(ref)} not found while scaling it to ${replicas} replicas`);
    if (current.spec?.replicas === replicas) return;
    await this.kube.mergePatch(ref, { spec: { replicas } });
  }
}

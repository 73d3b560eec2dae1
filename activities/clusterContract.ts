import type { ReleaseTarget } from '../src/contracts/target';
import { defineActivity } from './contract';

/** Image reference by digest: `registry/repository@sha256:…`. */
export type ImageByDigest = string;

export interface PreflightResult {
  ok: boolean;
  /** Every reason the target cannot take the release, each with the fix. */
  reasons: string[];
}

export interface RolloutState {
  ready: boolean;
  desiredReplicas: number;
  readyReplicas: number;
  /** Why pods are not ready, for example "0/5 nodes have nvidia.com/gpu: scale pool gpu". */
  reason?: string;
  /** True when a pod cannot be scheduled at all, so waiting longer will not help. */
  unschedulable: boolean;
}

/**
 * Activities that act on the cluster. Each is an idempotent reconciler: it
 * reads, compares, then creates or patches, and is safe to run twice.
 */
export const clusterActivities = {
  /** Namespace exists, some node can take the requested GPUs, the registry is pullable. */
  preflightTarget: defineActivity<{ target: ReleaseTarget; image: ImageByDigest }, PreflightResult>('preflightTarget'),
  /** Makes sure a stable Deployment exists: keeps it, adopts the one the policy names, or deploys one with the image. */
  ensureStable: defineActivity<
    { target: ReleaseTarget; image: ImageByDigest },
    {
      origin: 'existing' | 'adopted' | 'deployed';
      stableImage: ImageByDigest;
      /** True when this call created stable with the release's image, so no canary has anything to compare with. */
      created?: boolean;
    }
  >('ensureStable'),
  /** Server-side applies the canary Deployment and Service beside stable, with the release labels. */
  applyCanary: defineActivity<{ target: ReleaseTarget; image: ImageByDigest }, { generation: number }>('applyCanary'),
  /** Reads readiness of the canary or stable Deployment. */
  checkRollout: defineActivity<{ target: ReleaseTarget; track: 'canary' | 'stable' }, RolloutState>('checkRollout'),
  /** Sets the canary weight (0..100) through the target's traffic provider; reconciles the route first. */
  setTrafficWeight: defineActivity<{ target: ReleaseTarget; canaryWeight: number }, { canaryWeight: number }>('setTrafficWeight'),
  /** Patches stable to the new image; readiness is checked with checkRollout before traffic moves. */
  promoteStable: defineActivity<{ target: ReleaseTarget; image: ImageByDigest }, { generation: number }>('promoteStable'),
  /** Scales stable to its replica count so that it can take all traffic again. */
  restoreStable: defineActivity<{ target: ReleaseTarget }, { generation: number }>('restoreStable'),
  /** Sets traffic to 100 % stable through the provider's finalise step and deletes the canary objects. */
  removeCanary: defineActivity<{ target: ReleaseTarget }, { removed: string[] }>('removeCanary'),
};

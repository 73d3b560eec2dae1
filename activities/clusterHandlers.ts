import type { InputOf, OutputOf } from './contract';
import { clusterActivities } from './clusterContract';
import type { PreflightResult, RolloutState } from './clusterContract';
import { annotationKeys, buildDeployment, buildService, canaryServiceName, gpuResource, selectorMatches, servingContainer, stableServiceSelector, trackSelector } from './clusterManifests';
import { gpuPlacementProblems } from './clusterPreflight';
import { rolloutStateOf } from './clusterRollout';
import { shortMessage } from './register';
import type { ConflictRetryOptions, KubeClient, ObjectRef } from '../src/clients/kube';
import { describeRef } from '../src/clients/kube';
import type { CoreV1Event, V1Deployment, V1Namespace, V1Node, V1Pod, V1Service } from '../src/clients/kubeModule';
import { labelKeys } from '../src/contracts/target';
import type { ReleaseTarget } from '../src/contracts/target';
import { PermanentError, TransientError } from '../src/errors';
import type { Logger } from '../src/observability/log';
import { createTrafficRouter } from '../src/routing';
import type { TrafficRouter } from '../src/routing';

/** Clients and logger of the cluster activities. Tests pass a client for the sim cluster. */
export interface ClusterDeps {
  kube: KubeClient;
  log: Logger;
  /** Overrides the router of `target.traffic.provider`. */
  routerFor?: (target: ReleaseTarget) => TrafficRouter;
  conflictRetry?: ConflictRetryOptions;
}

type Handlers = { [K in keyof typeof clusterActivities]: (input: InputOf<(typeof clusterActivities)[K]>) => Promise<OutputOf<(typeof clusterActivities)[K]>> };

const digestImage = /^[^@\s]+@sha256:[0-9a-f]{64}$/;

function deploymentRef(target: ReleaseTarget, name: string): ObjectRef {
  return { apiVersion: 'apps/v1', kind: 'Deployment', namespace: target.namespace, name };
}

function serviceRef(target: ReleaseTarget, name: string): ObjectRef {
  return { apiVersion: 'v1', kind: 'Service', namespace: target.namespace, name };
}

/** Finds the serving container of a Deployment: the one named model-server, else the first. */
function servingContainerOf(deployment: V1Deployment): { name: string; image: string } | undefined {
  const containers = deployment.spec?.template.spec?.containers ?? [];
  const container = containers.find((c) => c.name === servingContainer) ?? containers[0];
  if (!container) return undefined;
  return { name: container.name, image: container.image ?? '' };
}

function requireDigest(image: string, target: ReleaseTarget): void {
  if (!digestImage.test(image)) {
    throw new PermanentError(`image "${image}" for endpoint ${target.endpoint} is not addressed by digest: expected registry/repository@sha256:<64 hex digits>`);
  }
}

/** Creates the cluster activity handlers over `deps`; each is an idempotent reconciler. */
export function clusterActivityHandlers(deps: ClusterDeps): Handlers {
  const { kube } = deps;
  const routerFor = deps.routerFor ?? ((target: ReleaseTarget) => createTrafficRouter(target.traffic.provider, kube, { conflictRetry: deps.conflictRetry }));

  /**
   * Finds the Deployment that serves stable traffic now: the policy's
   * Deployment, else the adopted one. Activities act on the result, because a
   * Deployment cannot be renamed when it is adopted.
   */
  async function resolveStable(target: ReleaseTarget): Promise<{ name: string; deployment?: V1Deployment }> {
    const own = await kube.read<V1Deployment>(deploymentRef(target, target.stableDeployment));
    if (own) return { name: target.stableDeployment, deployment: own };
    if (target.adoptDeployment) {
      const adopted = await kube.read<V1Deployment>(deploymentRef(target, target.adoptDeployment));
      if (adopted) return { name: target.adoptDeployment, deployment: adopted };
    }
    return { name: target.stableDeployment };
  }

  async function requireStable(target: ReleaseTarget): Promise<{ name: string; deployment: V1Deployment; routed: ReleaseTarget }> {
    const stable = await resolveStable(target);
    if (!stable.deployment) {
      throw new PermanentError(`stable ${describeRef(deploymentRef(target, target.stableDeployment))} not found: run ensureStable first`);
    }
    return { name: stable.name, deployment: stable.deployment, routed: { ...target, stableDeployment: stable.name } };
  }

  async function ensureStableService(target: ReleaseTarget, stable: V1Deployment, origin: 'existing' | 'adopted' | 'deployed'): Promise<void> {
    if (await kube.read<V1Service>(serviceRef(target, target.service))) return;
    const selector = origin === 'deployed' ? stableServiceSelector(target) : (stable.spec?.selector.matchLabels ?? {});
    await kube.apply(buildService(target, { track: 'stable', name: target.service, deploymentName: stable.metadata?.name ?? target.stableDeployment, selector }));
  }

  async function preflightTarget({ target, image }: InputOf<typeof clusterActivities.preflightTarget>): Promise<PreflightResult> {
    const reasons: string[] = [];
    const imageProblem = preflightImageProblem(image);
    if (imageProblem) reasons.push(imageProblem);
    const namespace = await kube.read<V1Namespace>({ apiVersion: 'v1', kind: 'Namespace', name: target.namespace });
    if (!namespace) reasons.push(`namespace ${target.namespace} not found: create it, or fix endpoints[].namespace of endpoint ${target.endpoint} in the policy`);
    if (target.resources.gpu > 0) {
      const nodes = await kube.list<V1Node>({ apiVersion: 'v1', kind: 'Node' });
      // Only pods on GPU nodes can hold GPUs, so listing them node by node keeps the reads small on large clusters.
      const gpuNodeNames = nodes.filter((n) => Number(n.status?.capacity?.[gpuResource] ?? '0') > 0).map((n) => n.metadata?.name ?? '');
      const perNode = await Promise.all(gpuNodeNames.map((name) => kube.list<V1Pod>({ apiVersion: 'v1', kind: 'Pod', fieldSelector: `spec.nodeName=${name},status.phase!=Succeeded,status.phase!=Failed` })));
      const pods = perNode.flat();
      const others = pods.filter((p) => !(p.metadata?.labels?.[labelKeys.endpoint] === trackSelector(target, 'canary')[labelKeys.endpoint] && p.metadata?.labels?.[labelKeys.track] === 'canary'));
      reasons.push(...gpuPlacementProblems(nodes, others, target, canaryPodCount(target)));
    }
    if (namespace) reasons.push(...(await routeProblems(target)));
    // TODO: pull access to the registry is not checked here; a missing AcrPull role shows up as ImagePullBackOff in checkRollout.
    return { ok: reasons.length === 0, reasons };
  }

  /** Finds what would stop the traffic provider later, while nothing is deployed yet. */
  async function routeProblems(target: ReleaseTarget): Promise<string[]> {
    const { provider, routeName, gateway } = target.traffic;
    try {
      if (provider === 'gateway-api') {
        const route = await kube.read({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', namespace: target.namespace, name: routeName });
        if (!route && !gateway) return [`HTTPRoute ${target.namespace}/${routeName} not found and traffic.gateway is not set: name the Gateway in the policy so the pipeline can create the route`];
      }
      if (provider === 'nginx') {
        const ingress = await kube.read({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: target.namespace, name: routeName });
        if (!ingress) return [`Ingress ${target.namespace}/${routeName} not found: the nginx provider needs the Ingress that routes to Service ${target.service}; create it or set traffic.routeName`];
      }
    } catch (error) {
      if (error instanceof PermanentError) return [`traffic provider ${provider} cannot read its route: ${error.message}`];
      throw error;
    }
    return [];
  }

  async function ensureStable({ target, image }: InputOf<typeof clusterActivities.ensureStable>): Promise<OutputOf<typeof clusterActivities.ensureStable>> {
    const found = await resolveStable(target);
    if (found.deployment) {
      const origin = await markOrigin(target, found.name, found.deployment);
      await ensureStableService(target, found.deployment, origin);
      // A rerun of this activity finds the stable it created itself: the release-id annotation tells.
      const created = origin === 'deployed' && found.deployment.metadata?.annotations?.[annotationKeys.releaseId] === target.releaseId;
      return { origin, stableImage: servingContainerOf(found.deployment)?.image ?? '', created };
    }
    requireDigest(image, target);
    const deployment = await kube.apply(buildDeployment(target, { track: 'stable', name: target.stableDeployment, image, replicas: target.replicas, origin: 'deployed' }));
    await ensureStableService(target, deployment, 'deployed');
    return { origin: 'deployed', stableImage: image, created: true };
  }

  /** Records adoption on the Deployment so that a second run returns the same origin. */
  async function markOrigin(target: ReleaseTarget, name: string, deployment: V1Deployment): Promise<'existing' | 'adopted' | 'deployed'> {
    const recorded = deployment.metadata?.annotations?.[annotationKeys.stableOrigin];
    if (recorded === 'adopted' || recorded === 'deployed') return recorded;
    if (name !== target.adoptDeployment) return 'existing';
    await kube.mergePatch(deploymentRef(target, name), { metadata: { annotations: { [annotationKeys.stableOrigin]: 'adopted' }, labels: { [labelKeys.endpoint]: trackSelector(target, 'stable')[labelKeys.endpoint] } } });
    return 'adopted';
  }

  async function applyCanary({ target, image }: InputOf<typeof clusterActivities.applyCanary>): Promise<{ generation: number }> {
    requireDigest(image, target);
    const stable = await requireStable(target);
    const service = await kube.read<V1Service>(serviceRef(target, target.service));
    const existing = await kube.read<V1Deployment>(deploymentRef(target, target.canaryDeployment));
    const replicaRatio = target.traffic.provider === 'replica-ratio';

    // replica-ratio needs the stable Service to select canary pods too; the other providers need it not to.
    const serviceSelector = service?.spec?.selector ?? {};
    const extraPodLabels = replicaRatio ? withoutPipelineKeys(serviceSelector) : {};
    // NOTE: with replica-ratio the first canary pod takes its share of traffic as soon as it is ready, before the first traffic step.
    const manifest = buildDeployment(target, { track: 'canary', name: target.canaryDeployment, image, replicas: replicaRatio ? (existing?.spec?.replicas ?? 1) : (target.canaryReplicas ?? 1), extraPodLabels });
    const podLabels = manifest.spec?.template.metadata?.labels ?? {};
    if (!replicaRatio && selectorMatches(serviceSelector, podLabels)) {
      throw new PermanentError(`Service ${target.namespace}/${target.service} selects canary pods too (selector ${JSON.stringify(serviceSelector)}), so traffic weights would not hold: add ${labelKeys.track}: stable or another stable-only label to its selector`);
    }

    const applied = await kube.apply(manifest);
    await kube.apply(buildService(target, { track: 'canary', name: canaryServiceName(target), deploymentName: target.canaryDeployment, selector: trackSelector(target, 'canary') }));
    deps.log.info('canary applied', { releaseId: target.releaseId, endpoint: target.endpoint, namespace: target.namespace, deployment: target.canaryDeployment, stable: stable.name, generation: applied.metadata?.generation });
    return { generation: applied.metadata?.generation ?? 0 };
  }

  async function checkRollout({ target, track }: InputOf<typeof clusterActivities.checkRollout>): Promise<RolloutState> {
    const name = track === 'canary' ? target.canaryDeployment : (await resolveStable(target)).name;
    const deployment = await kube.read<V1Deployment>(deploymentRef(target, name));
    if (!deployment) {
      return { ready: false, desiredReplicas: 0, readyReplicas: 0, unschedulable: false, reason: `${describeRef(deploymentRef(target, name))} not found` };
    }
    const selector = Object.entries(deployment.spec?.selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
    const pods = await kube.list<V1Pod>({ apiVersion: 'v1', kind: 'Pod', namespace: target.namespace, labelSelector: selector });
    const pending = pods.some((p) => p.status?.phase === 'Pending');
    const events = pending ? await kube.list<CoreV1Event>({ apiVersion: 'v1', kind: 'Event', namespace: target.namespace, fieldSelector: 'reason=FailedScheduling' }) : [];
    return rolloutStateOf(deployment, pods, events);
  }

  async function setTrafficWeight({ target, canaryWeight }: InputOf<typeof clusterActivities.setTrafficWeight>): Promise<{ canaryWeight: number }> {
    const { routed } = await requireStable(target);
    const weights = await routerFor(target).setWeights(routed, canaryWeight);
    deps.log.info('traffic weight set', { releaseId: target.releaseId, endpoint: target.endpoint, provider: target.traffic.provider, requested: canaryWeight, canaryWeight: weights.canary });
    return { canaryWeight: weights.canary };
  }

  async function promoteStable({ target, image }: InputOf<typeof clusterActivities.promoteStable>): Promise<{ generation: number }> {
    requireDigest(image, target);
    const stable = await requireStable(target);
    const ref = deploymentRef(target, stable.name);
    const current = servingContainerOf(stable.deployment);
    if (!current) throw new PermanentError(`${describeRef(ref)} has no container to take image ${image}`);

    // Stable grows back to full size here, so the checkRollout that follows waits
    // for every replica before removeCanary takes the canary's share away.
    const currentReplicas = stable.deployment.spec?.replicas ?? 0;
    const replicas = Math.max(currentReplicas, target.replicas);

    // A stable the pipeline deployed is re-applied whole, so its apply set stays complete; any other stable gets only its image changed.
    if (stable.deployment.metadata?.annotations?.[annotationKeys.stableOrigin] === 'deployed') {
      const applied = await kube.apply(buildDeployment(target, { track: 'stable', name: stable.name, image, replicas, origin: 'deployed' }));
      return { generation: applied.metadata?.generation ?? 0 };
    }
    if (current.image === image && currentReplicas === replicas) return { generation: stable.deployment.metadata?.generation ?? 0 };
    const patched = await kube.strategicMergePatch<V1Deployment>(ref, {
      metadata: { annotations: { [annotationKeys.image]: image, [annotationKeys.releaseId]: target.releaseId } },
      spec: { replicas, template: { spec: { containers: [{ name: current.name, image }] } } },
    });
    return { generation: patched.metadata?.generation ?? 0 };
  }

  async function restoreStable({ target }: InputOf<typeof clusterActivities.restoreStable>): Promise<{ generation: number }> {
    const stable = await requireStable(target);
    // Only scale up: an autoscaler may run stable above the policy's count, and rollback must not shrink it.
    if ((stable.deployment.spec?.replicas ?? 0) >= target.replicas) return { generation: stable.deployment.metadata?.generation ?? 0 };
    const patched = await kube.mergePatch<V1Deployment>(deploymentRef(target, stable.name), { spec: { replicas: target.replicas } });
    return { generation: patched.metadata?.generation ?? 0 };
  }

  async function removeCanary({ target }: InputOf<typeof clusterActivities.removeCanary>): Promise<{ removed: string[] }> {
    const stable = await resolveStable(target);
    const routed = { ...target, stableDeployment: stable.name };
    if (stable.deployment && (stable.deployment.status?.availableReplicas ?? 0) < 1) {
      deps.log.warn('stable has no available replica while traffic returns to it', { releaseId: target.releaseId, endpoint: target.endpoint, namespace: target.namespace, deployment: stable.name });
    }
    if (stable.deployment) await routerFor(target).finalise(routed);
    const refs = [deploymentRef(target, target.canaryDeployment), serviceRef(target, canaryServiceName(target))];
    for (const ref of refs) await kube.delete(ref);
    deps.log.info('canary removed', { releaseId: target.releaseId, endpoint: target.endpoint, namespace: target.namespace, deployment: target.canaryDeployment });
    // Every object listed is gone afterwards, whether this run or an earlier one deleted it, so a retry returns the same list.
    return { removed: refs.map(describeRef) };
  }

  return { preflightTarget, ensureStable, applyCanary, checkRollout, setTrafficWeight, promoteStable, restoreStable, removeCanary };
}

/**
 * Checks the image that preflight receives: an image by digest, or a bare
 * `registry/repository` that a build has yet to push to. A tag is rejected,
 * because releases deploy images by digest only.
 */
export function preflightImageProblem(image: string): string | undefined {
  if (digestImage.test(image)) return undefined;
  if (image.includes('@')) return `image "${image}" has an invalid digest: expected registry/repository@sha256:<64 hex digits>`;
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  if (lastSegment.includes(':')) return `image "${image}" is addressed by tag: releases deploy images by digest, so name registry/repository@sha256:<64 hex digits>`;
  return undefined;
}

/** Pods the canary runs when fully scaled, which preflight must find room for. */
function canaryPodCount(target: ReleaseTarget): number {
  return target.traffic.provider === 'replica-ratio' ? 1 : (target.canaryReplicas ?? 1);
}

function withoutPipelineKeys(selector: Record<string, string>): Record<string, string> {
  const owned = new Set<string>([labelKeys.track, labelKeys.endpoint, labelKeys.releaseId]);
  return Object.fromEntries(Object.entries(selector).filter(([key]) => !owned.has(key)));
}

/**
 * Turns any failure into a TransientError or PermanentError whose message is
 * one short line, because orchestration history keeps every failure message.
 * Errors of other classes count as permanent: retrying an unknown fault
 * rarely helps, and the orchestrator's retries still apply.
 */
export function toBoundaryError(error: unknown): TransientError | PermanentError {
  const message = shortMessage(error instanceof Error ? new Error(error.message) : error);
  if (error instanceof TransientError) return new TransientError(message);
  return new PermanentError(message);
}

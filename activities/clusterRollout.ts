import type { RolloutState } from './clusterContract';
import type { CoreV1Event, V1Deployment, V1Pod } from '../src/clients/kubeModule';

/** Container waiting reasons that do not clear by waiting; checkRollout returns them so that an operator can act. */
const stuckReasons = new Set(['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'CrashLoopBackOff', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

/** Reports whether the Deployment controller has rolled out the current spec with every replica available. */
export function isRolledOut(deployment: V1Deployment): boolean {
  const desired = deployment.spec?.replicas ?? 1;
  const status = deployment.status ?? {};
  const observed = (status.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
  if (!observed) return false;
  if (desired === 0) return (status.replicas ?? 0) === 0;
  return (status.updatedReplicas ?? 0) >= desired && (status.availableReplicas ?? 0) >= desired && (status.replicas ?? 0) <= desired;
}

/** Returns the scheduler's message for an unschedulable pod: its PodScheduled condition, else its latest FailedScheduling event. */
export function unschedulableMessage(pod: V1Pod, events: CoreV1Event[]): string | undefined {
  const condition = (pod.status?.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
  if (!condition) return undefined;
  if (condition.message) return condition.message;
  const latest = events
    .filter((e) => e.reason === 'FailedScheduling' && e.involvedObject.name === pod.metadata?.name)
    .sort((a, b) => eventTime(b) - eventTime(a))[0];
  return latest?.message ?? 'the scheduler found no node for the pod';
}

function eventTime(event: CoreV1Event): number {
  const time = event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp;
  return time ? new Date(time).getTime() : 0;
}

function stuckContainer(pod: V1Pod): string | undefined {
  for (const status of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const waiting = status.state?.waiting;
    if (waiting?.reason && stuckReasons.has(waiting.reason)) {
      return `pod ${pod.metadata?.name ?? '?'} container ${status.name}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`;
    }
  }
  return undefined;
}

/**
 * Summarises a Deployment and its pods for the orchestrator. A pod that the
 * scheduler cannot place makes the state unschedulable, with the scheduler's
 * message (for example "0/6 nodes are available: 6 Insufficient
 * nvidia.com/gpu"). Containers stuck in image pull or crash loops and a
 * passed progress deadline give a reason but do not make it unschedulable.
 */
export function rolloutStateOf(deployment: V1Deployment, pods: V1Pod[], events: CoreV1Event[]): RolloutState {
  const name = `${deployment.metadata?.namespace ?? ''}/${deployment.metadata?.name ?? ''}`;
  const desiredReplicas = deployment.spec?.replicas ?? 1;
  const readyReplicas = deployment.status?.readyReplicas ?? 0;
  const ready = isRolledOut(deployment);
  if (ready) return { ready, desiredReplicas, readyReplicas, unschedulable: false };

  const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
  for (const pod of live) {
    const message = unschedulableMessage(pod, events);
    if (message) return { ready, desiredReplicas, readyReplicas, unschedulable: true, reason: `Deployment ${name}: pod ${pod.metadata?.name ?? '?'} is unschedulable: ${message}` };
  }
  for (const pod of live) {
    const stuck = stuckContainer(pod);
    if (stuck) return { ready, desiredReplicas, readyReplicas, unschedulable: false, reason: `Deployment ${name}: ${stuck}` };
  }
  const progressing = (deployment.status?.conditions ?? []).find((c) => c.type === 'Progressing');
  if (progressing?.status === 'False') {
    return { ready, desiredReplicas, readyReplicas, unschedulable: false, reason: `Deployment ${name}: ${progressing.reason ?? 'not progressing'}: ${progressing.message ?? ''}`.trim() };
  }
  return { ready, desiredReplicas, readyReplicas, unschedulable: false, reason: `Deployment ${name}: ${readyReplicas}/${desiredReplicas} replicas ready` };
}

import { type Actor, instanceIdOf, releaseKeyOf, type ReleaseRequest, type ReleaseSubject } from '../contracts/release';

/** Delivery details shared by every request an event produces. */
export interface Delivery {
  deliveryId: string;
  causedBy: Actor;
  receivedAt: string;
}

/** Builds the normalised request for one endpoint; the key and instance id derive from the subject only. */
export function buildRequest(subject: ReleaseSubject, delivery: Delivery): ReleaseRequest {
  const releaseKey = releaseKeyOf(subject);
  const request: ReleaseRequest = {
    schemaVersion: 1,
    releaseKey,
    instanceId: instanceIdOf(releaseKey, subject.endpoint),
    source: subject.source,
    endpoint: subject.endpoint,
    causedBy: delivery.causedBy,
    deliveryId: delivery.deliveryId,
    receivedAt: delivery.receivedAt,
  };
  if (subject.model) request.model = subject.model;
  if (subject.image) request.image = subject.image;
  if (subject.git) request.git = subject.git;
  return request;
}

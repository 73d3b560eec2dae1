import type { AnalysisSummary, ReleasePhase } from './phases';

/** Kinds of lifecycle message the release publishes on the RELEASE_EVENTS_TOPIC topic. */
export type ReleaseEventKind = 'started' | 'phase' | 'step' | 'analysis' | 'promoted' | 'rolledBack' | 'finished';

/**
 * Body of every message on the release events topic. Readers switch on
 * `schemaVersion` first; a changed shape gets a new version and the old one
 * stays readable.
 */
export interface ReleaseLifecycleEvent {
  schemaVersion: 1;
  kind: ReleaseEventKind;
  releaseId: string;
  releaseKey: string;
  endpoint: string;
  phase: ReleasePhase;
  /** ISO time from the orchestration clock, so replays publish the same value. */
  at: string;
  canaryWeight?: number;
  step?: number;
  analysis?: AnalysisSummary;
  image?: string;
  reason?: string;
  model?: { name: string; version: string };
}

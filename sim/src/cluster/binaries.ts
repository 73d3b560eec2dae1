import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { repoRoot, run } from '../support';

/** The control-plane binaries and YAML assets that sim/scripts/build-binaries.sh caches outside the clone. */
export interface SimBinaries {
  binDir: string;
  /** Holds `stages/` (kwok Stage manifests) and `crds/` (Gateway API standard CRDs). */
  assetsDir: string;
  /** Kubernetes version the binaries were built from, for example `v1.36.1`. */
  kubeVersion: string;
}

/** Reads the pinned Kubernetes version from sim/tools/k8s/go.mod. */
export function pinnedKubeVersion(root = repoRoot()): string {
  const goMod = join(root, 'sim', 'tools', 'k8s', 'go.mod');
  const match = /^require k8s\.io\/kubernetes (v\d+\.\d+\.\d+)\s*$/m.exec(readFileSync(goMod, 'utf8'));
  if (!match?.[1]) throw new Error(`${goMod} has no "require k8s.io/kubernetes vX.Y.Z" line; restore the pin`);
  return match[1];
}

/**
 * Returns the cached binaries, building them first when the cache lacks any.
 * A cold build takes tens of minutes; `onProgress` receives each progress line
 * the build script writes.
 */
export async function ensureBinaries(options: { onProgress?: (line: string) => void } = {}): Promise<SimBinaries> {
  const root = repoRoot();
  const script = join(root, 'sim', 'scripts', 'build-binaries.sh');
  const kubeVersion = pinnedKubeVersion(root);

  const cached = await printDirs(script).catch(() => undefined);
  if (cached) return { ...cached, kubeVersion };

  // A cold build can take more than half an hour on two cores, so no timeout here.
  const built = await run('bash', [script], { onStderrLine: options.onProgress });
  const binDir = built.stdout.trim().split('\n').pop() ?? '';
  const assets = await run('bash', [script, '--print-assets-dir']);
  return { binDir, assetsDir: assets.stdout.trim(), kubeVersion };
}

/** Returns the cached bin directory, or undefined when the binaries are not built; never builds. */
export async function cachedBinDir(): Promise<string | undefined> {
  const script = join(repoRoot(), 'sim', 'scripts', 'build-binaries.sh');
  return run('bash', [script, '--print-dir']).then((result) => result.stdout.trim(), () => undefined);
}

async function printDirs(script: string): Promise<{ binDir: string; assetsDir: string }> {
  const bin = await run('bash', [script, '--print-dir']);
  const assets = await run('bash', [script, '--print-assets-dir']);
  return { binDir: bin.stdout.trim(), assetsDir: assets.stdout.trim() };
}

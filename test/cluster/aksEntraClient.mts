// Child process for the AKS Entra test. It runs the app's compiled Kubernetes
// client in a fresh Node 22 process, because NODE_EXTRA_CA_CERTS (the sim CA)
// is read only at process start. It prints one JSON line: {"result": ...} or
// {"error": {"name", "message"}}.
import { createRequire } from 'node:module';
import { join } from 'node:path';

interface KubeModule {
  createKubeClient: (settings: Record<string, unknown>) => Promise<{ read(ref: Record<string, string>): Promise<unknown>; config: { getCurrentCluster(): { server: string } | null } }>;
}

const require = createRequire(import.meta.url);
const { createKubeClient } = require(join(process.cwd(), 'dist', 'src', 'clients', 'kube.js')) as KubeModule;
const settings = JSON.parse(process.env.KUBE_SETTINGS_JSON ?? '{}') as Record<string, unknown>;

try {
  const kube = await createKubeClient(settings);
  const server = kube.config.getCurrentCluster()?.server;
  try {
    await kube.read({ apiVersion: 'v1', kind: 'Namespace', name: 'models' });
    console.log(JSON.stringify({ result: { server, read: 'ok' } }));
  } catch (error) {
    console.log(JSON.stringify({ result: { server, read: { name: (error as Error).name, message: (error as Error).message } } }));
  }
} catch (error) {
  console.log(JSON.stringify({ error: { name: (error as Error).name, message: (error as Error).message } }));
}

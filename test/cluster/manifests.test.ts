import { buildDeployment, buildService, labelValue, selectorMatches, stableServiceSelector, tolerationsOf, trackSelector } from '../../activities/clusterManifests';
import { preflightImageProblem } from '../../activities/clusterHandlers';
import { fieldManager, labelKeys } from '../../src/contracts/target';
import { imageV1, targetOf } from './fixtures';

describe('canary manifests', () => {
  test('deployment requests and limits GPUs', () => {
    const deployment = buildDeployment(targetOf(), { track: 'canary', name: 'sentiment-canary', image: imageV1, replicas: 1 });
    const container = deployment.spec?.template.spec?.containers[0];
    expect(container?.resources?.requests?.['nvidia.com/gpu']).toBe('1');
    expect(container?.resources?.limits?.['nvidia.com/gpu']).toBe('1');
    expect(container?.image).toBe(imageV1);
  });

  test('deployment has no GPU key without GPUs', () => {
    const deployment = buildDeployment(targetOf({ resources: { gpu: 0, cpu: '1', memory: '2Gi' } }), { track: 'canary', name: 'x-canary', image: imageV1 });
    expect(deployment.spec?.template.spec?.containers[0]?.resources?.requests).toEqual({ cpu: '1', memory: '2Gi' });
    expect(deployment.spec?.replicas).toBeUndefined();
  });

  test('deployment carries probes, labels and scheduling', () => {
    const target = targetOf();
    const deployment = buildDeployment(target, { track: 'canary', name: 'sentiment-canary', image: imageV1, replicas: 1 });
    const pod = deployment.spec?.template;
    expect(pod?.spec?.containers[0]?.readinessProbe?.httpGet?.path).toBe('/v2/health/ready');
    expect(pod?.spec?.containers[0]?.livenessProbe?.httpGet?.path).toBe('/v2/health/live');
    expect(pod?.metadata?.labels?.[labelKeys.track]).toBe('canary');
    expect(pod?.metadata?.labels?.[labelKeys.endpoint]).toBe('sentiment');
    expect(pod?.metadata?.labels?.[labelKeys.managedBy]).toBe(fieldManager);
    expect(pod?.metadata?.labels?.['app.kubernetes.io/name']).toBe('sentiment');
    expect(pod?.spec?.nodeSelector).toEqual({ 'kubernetes.azure.com/accelerator': 'nvidia' });
    expect(deployment.spec?.selector.matchLabels).toEqual(trackSelector(target, 'canary'));
    expect(pod?.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms[0]?.matchExpressions?.[0]).toEqual({ key: 'kubernetes.azure.com/scalesetpriority', operator: 'NotIn', values: ['spot'] });
  });

  test('deployment sets the model directory', () => {
    const env = buildDeployment(targetOf(), { track: 'canary', name: 'c', image: imageV1 }).spec?.template.spec?.containers[0]?.env ?? [];
    expect(env).toContainEqual({ name: 'AZUREML_MODEL_DIR', value: '/var/azureml-app/azureml-models/sentiment/3' });
  });

  test('spot allowed adds toleration, drops affinity', () => {
    const target = targetOf({ scheduling: { nodeSelector: {}, tolerations: [], allowSpot: true } });
    expect(tolerationsOf(target)).toEqual([{ key: 'kubernetes.azure.com/scalesetpriority', operator: 'Equal', value: 'spot', effect: 'NoSchedule' }]);
    expect(buildDeployment(target, { track: 'canary', name: 'c', image: imageV1 }).spec?.template.spec?.affinity).toBeUndefined();
  });

  test('label value keeps short names', () => {
    expect(labelValue('sentiment')).toBe('sentiment');
  });

  test('label value shortens long ids', () => {
    const long = `rel-${'a'.repeat(40)}-${'0123456789abcdef01234567'}`;
    const value = labelValue(long);
    expect(value.length).toBeLessThanOrEqual(63);
    expect(value).toMatch(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/);
    expect(labelValue(`${long}x`)).not.toBe(value);
  });

  test('label value cleans invalid characters', () => {
    expect(labelValue('a/b')).toMatch(/^a-b-[0-9a-f]{10}$/);
  });

  test('stable service selector per provider', () => {
    expect(stableServiceSelector(targetOf())).toEqual({ [labelKeys.endpoint]: 'sentiment', [labelKeys.track]: 'stable' });
    expect(stableServiceSelector(targetOf({ traffic: { provider: 'replica-ratio', routeName: 'sentiment' } }))).toEqual({ [labelKeys.endpoint]: 'sentiment' });
  });

  test('service targets the http port', () => {
    const service = buildService(targetOf(), { track: 'canary', name: 'sentiment-canary', deploymentName: 'sentiment-canary', selector: { a: 'b' } });
    expect(service.spec?.ports).toEqual([{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }]);
    expect(service.spec?.selector).toEqual({ a: 'b' });
  });

  test('selector match needs every key', () => {
    expect(selectorMatches({ a: '1' }, { a: '1', b: '2' })).toBe(true);
    expect(selectorMatches({ a: '1', c: '3' }, { a: '1', b: '2' })).toBe(false);
    expect(selectorMatches({}, { a: '1' })).toBe(false);
  });
});

describe('preflight image', () => {
  test('digest passes', () => {
    expect(preflightImageProblem(imageV1)).toBeUndefined();
  });

  test('build repository passes', () => {
    expect(preflightImageProblem('simacr.azurecr.io/models/sentiment')).toBeUndefined();
    expect(preflightImageProblem('localhost:5000/models/sentiment')).toBeUndefined();
  });

  test('tag is rejected', () => {
    expect(preflightImageProblem('simacr.azurecr.io/models/sentiment:v3')).toMatch(/is addressed by tag/);
  });

  test('bad digest is rejected', () => {
    expect(preflightImageProblem('simacr.azurecr.io/models/sentiment@sha256:abc')).toMatch(/has an invalid digest/);
  });
});

import { gunzipSync } from 'node:zlib';

import { renderTemplate } from '../../activities/image';
import { tarGz } from '../../src/clients/acr';
import { parseResult } from '../../src/clients/prometheus';
import type { ReleasePlan } from '../../src/release/plan';
import type { ModelFacts } from '../../src/release/validation';
import { modelVersionProblems } from '../../src/release/validation';

const rules: ReleasePlan['validation'] = {
  requiredTags: ['area'],
  allowedModelTypes: ['mlflow_model'],
  allowedFlavors: ['sklearn'],
  metrics: [{ name: 'r2', min: 0.8 }, { name: 'rmse', max: 60 }],
  allowedRegions: ['switzerlandnorth'],
  targetRegion: 'switzerlandnorth',
};
const good: ModelFacts = { name: 'm', version: '3', modelType: 'mlflow_model', flavors: ['python_function', 'sklearn'], tags: { area: 'x' }, properties: { r2: '0.91', rmse: '42' }, region: 'switzerlandnorth' };

describe('model validation', () => {
  test('valid version has no problems', () => {
    expect(modelVersionProblems(good, rules)).toEqual([]);
  });

  test.each([
    ['missing tag', { tags: {} }, 'lacks the required tag "area"'],
    ['wrong type', { modelType: 'custom_model' }, 'has type "custom_model", allowed are mlflow_model'],
    ['no allowed flavour', { flavors: ['onnx'] }, 'has flavours onnx, it needs one of sklearn'],
    ['metric below min', { properties: { r2: '0.5', rmse: '42' } }, 'metric r2 0.5 is below the minimum 0.8'],
    ['metric above max', { properties: { r2: '0.9', rmse: '70' } }, 'metric rmse 70 is above the maximum 60'],
    ['metric missing', { properties: { rmse: '42' } }, 'has no property "r2"'],
    ['metric not a number', { properties: { r2: 'high', rmse: '42' } }, 'property "r2" is "high", not a number'],
    ['region outside', { region: 'westeurope' }, 'is stored in region westeurope'],
  ] as [string, Partial<ModelFacts>, string][])('%s', (_name, change, expected) => {
    const problems = modelVersionProblems({ ...good, ...change }, rules);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
  });

  test('every problem is listed', () => {
    expect(modelVersionProblems({ ...good, tags: {}, modelType: 'x', flavors: [], properties: {} }, rules)).toHaveLength(5);
  });
});

describe('image build context', () => {
  test('template placeholders are filled', () => {
    expect(renderTemplate('FROM a\nENV M={{ modelName }}:{{modelVersion}}', { modelName: 'm', modelVersion: '3' })).toBe('FROM a\nENV M=m:3');
  });

  test('unknown placeholder is an error', () => {
    expect(() => renderTemplate('{{nope}}', { modelName: 'm' })).toThrow('Dockerfile template uses {{nope}}, which the build does not provide');
  });

  test('context is a gzipped ustar archive', () => {
    const tar = gunzipSync(tarGz([{ path: 'Dockerfile', content: 'FROM scratch\n' }]));
    expect(tar.length).toBe(512 + 512 + 1024);
    expect(tar.subarray(0, 10).toString()).toBe('Dockerfile');
    expect(tar.subarray(257, 262).toString()).toBe('ustar');
    expect(tar.subarray(512, 525).toString()).toBe('FROM scratch\n');
    const stored = Number.parseInt(tar.subarray(148, 154).toString(), 8);
    const header = Buffer.from(tar.subarray(0, 512));
    header.fill(' ', 148, 156);
    expect(stored).toBe(header.reduce((sum, byte) => sum + byte, 0));
  });
});

describe('prometheus results', () => {
  test('vector values are read', () => {
    expect(parseResult({ status: 'success', data: { resultType: 'vector', result: [{ value: [1, '0.5'] }, { value: [1, 'NaN'] }] } })).toEqual({ kind: 'values', values: [0.5, Number.NaN] });
  });
  test('empty vector is no values', () => {
    expect(parseResult({ status: 'success', data: { resultType: 'vector', result: [] } })).toEqual({ kind: 'values', values: [] });
  });
  test('error response is query failed', () => {
    expect(parseResult({ status: 'error', errorType: 'bad_data', error: 'parse error at char 5' })).toEqual({ kind: 'query-failed', error: 'bad_data: parse error at char 5' });
  });
  test('matrix is query failed', () => {
    expect(parseResult({ status: 'success', data: { resultType: 'matrix', result: [] } }).kind).toBe('query-failed');
  });
});

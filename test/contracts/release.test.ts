import { instanceIdOf, releaseKeyOf } from '../../src/contracts/release';

const digest = `sha256:${'a'.repeat(64)}`;

describe('release key', () => {
  test('image key ignores the tag', () => {
    const tagged = releaseKeyOf({ source: 'acr', endpoint: 'demo', image: { registry: 'contosocr.azurecr.io', repository: 'samples/nginx', digest, tag: 'latest' } });
    const untagged = releaseKeyOf({ source: 'acr', endpoint: 'demo', image: { registry: 'contosocr.azurecr.io', repository: 'samples/nginx', digest } });
    expect(tagged).toBe(untagged);
  });

  test('image key rejects a placeholder digest', () => {
    expect(() => releaseKeyOf({ source: 'acr', endpoint: 'demo', image: { registry: 'r', repository: 'x', digest: 'digest1' } })).toThrow(/digest "digest1" is invalid/);
  });

  test('instance id is stable and valid for Durable', () => {
    const key = releaseKeyOf({ source: 'azureml', endpoint: 'Regression/EU', model: { name: 'm', version: '20' } });
    const id = instanceIdOf(key, 'Regression/EU');
    expect(id).toBe(instanceIdOf(key, 'Regression/EU'));
    expect(id).toMatch(/^rel-regression-eu-[0-9a-f]{24}$/);
  });
});

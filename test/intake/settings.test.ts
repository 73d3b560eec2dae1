import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parseSettings } from '../../src/config/settings';

const sample = (JSON.parse(readFileSync(join(__dirname, '../../local.settings.sample.json'), 'utf8')) as { Values: Record<string, string> }).Values;

describe('intake settings', () => {
  test('sample settings parse', () => {
    const settings = parseSettings({ ...sample });

    expect(settings.WEBHOOK_MAX_BODY_BYTES).toBe(1048576);
    expect(settings.WEBSITE_AUTH_ENABLED).toBe(false);
  });

  test('App Service spelling True is accepted', () => {
    expect(parseSettings({ ...sample, WEBSITE_AUTH_ENABLED: 'True' }).WEBSITE_AUTH_ENABLED).toBe(true);
  });

  test('Entra settings must come together', () => {
    expect(() => parseSettings({ ...sample, ENTRA_ISSUER: 'https://login.example.test/t/v2.0' })).toThrow('ENTRA_ISSUER, ENTRA_AUDIENCE and ENTRA_JWKS_URI must be set together or not at all (set: ENTRA_ISSUER)');
  });

  test('invalid body limit names the setting', () => {
    expect(() => parseSettings({ ...sample, WEBHOOK_MAX_BODY_BYTES: '1MB' })).toThrow(/WEBHOOK_MAX_BODY_BYTES is invalid: expected a positive integer number of bytes/);
  });
});

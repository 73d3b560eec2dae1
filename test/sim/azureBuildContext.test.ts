import { gunzipSync, gzipSync } from 'node:zlib';

import { tarGz } from '../../src/clients/acr';
import { listBuildContext } from '../../sim/src/azure/acr/buildContext';

describe('build context listing', () => {
  test('lists files of the app archive', () => {
    const archive = tarGz([
      { path: 'Dockerfile', content: 'FROM scratch\n' },
      { path: 'model/settings.json', content: Buffer.alloc(700, 1) },
    ]);

    expect(listBuildContext(archive)).toEqual({ ok: true, files: ['Dockerfile', 'model/settings.json'] });
  });

  test('gzip of non-tar bytes is rejected', () => {
    const listing = listBuildContext(gzipSync(Buffer.alloc(1024, 7)));

    expect(listing.ok).toBe(false);
  });

  test('corrupt gzip is rejected', () => {
    const listing = listBuildContext(Buffer.from([0x1f, 0x8b, 1, 2, 3]));

    expect(listing).toMatchObject({ ok: false, reason: expect.stringContaining('gzip') as unknown });
  });

  test('archive without end blocks is rejected', () => {
    const archive = tarGz([{ path: 'Dockerfile', content: 'FROM scratch\n' }]);
    const truncated = gzipSync(gunzipSync(archive).subarray(0, 1024));

    expect(listBuildContext(truncated).ok).toBe(false);
  });
});

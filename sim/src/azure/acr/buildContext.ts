import { gunzipSync } from 'node:zlib';

/** The files of an uploaded build context, or the reason it cannot be read. */
export type ContextListing = { ok: true; files: string[] } | { ok: false; reason: string };

const blockSize = 512;

/**
 * Lists the regular files of a build context: a tar archive, gzipped or not,
 * as ACR accepts from listBuildSourceUploadUrl. Names lose a leading "./".
 */
export function listBuildContext(body: Buffer): ContextListing {
  let archive = body;
  if (body[0] === 0x1f && body[1] === 0x8b) {
    try {
      archive = gunzipSync(body);
    } catch (error) {
      return { ok: false, reason: `the build context is not valid gzip: ${error instanceof Error ? error.message : String(error)}` };
    }
  }
  const files: string[] = [];
  for (let offset = 0; offset + blockSize <= archive.length; ) {
    const header = archive.subarray(offset, offset + blockSize);
    if (header.every((byte) => byte === 0)) return { ok: true, files };
    if (header.toString('latin1', 257, 262) !== 'ustar') return { ok: false, reason: `the build context is not a tar archive (no ustar header at byte ${offset})` };

    const size = Number.parseInt(field(header, 124, 12) || '0', 8);
    if (!Number.isFinite(size) || size < 0) return { ok: false, reason: `the tar entry at byte ${offset} has an invalid size` };
    const prefix = field(header, 345, 155);
    const name = (prefix ? `${prefix}/` : '') + field(header, 0, 100);
    const type = header.toString('latin1', 156, 157);
    // Types "0" and NUL are regular files. Directories, links and pax headers are skipped.
    if (type === '0' || type === '\0') files.push(name.replace(/^\.\//, ''));
    offset += blockSize + Math.ceil(size / blockSize) * blockSize;
  }
  return { ok: false, reason: 'the build context tar archive ends without its two zero blocks' };
}

function field(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.toString('utf8', 0, end === -1 ? length : end).trim();
}

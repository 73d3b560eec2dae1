import 'reflect-metadata';

import { webcrypto } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import * as x509 from '@peculiar/x509';

/** PEM material for the sim's HTTPS servers and the CA file that clients trust. */
export interface SimCertificates {
  /** Path of the CA certificate (PEM); give it to clients as NODE_EXTRA_CA_CERTS. */
  caCertPath: string;
  caCertPem: string;
  serverCertPem: string;
  serverKeyPem: string;
}

const ecdsa = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const signingAlgorithm = { name: 'ECDSA', hash: 'SHA-256' } as const;
const dayMs = 24 * 60 * 60 * 1000;

function pem(label: string, der: ArrayBuffer): string {
  return x509.PemConverter.encode(der, label);
}

/**
 * Generates a fresh self-signed CA and one server certificate for 127.0.0.1,
 * ::1 and localhost, and writes the CA to `<dir>/ca.pem`. Keys stay in memory
 * (the server key is never written), so each sim run trusts only its own CA.
 */
export async function createSimCertificates(dir: string): Promise<SimCertificates> {
  // Node's WebCrypto is the provider, so no native addon is needed.
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const now = Date.now();
  const notBefore = new Date(now - dayMs);
  const notAfter = new Date(now + 30 * dayMs);

  const caKeys = await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: 'CN=aks-model-release sim CA (local simulator only)',
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const serverKeys = await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
  const serverCert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: 'CN=127.0.0.1',
    issuer: caCert.subject,
    notBefore,
    notAfter,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'ip', value: '::1' },
        { type: 'dns', value: 'localhost' },
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const serverKeyDer = await webcrypto.subtle.exportKey('pkcs8', serverKeys.privateKey);
  const caCertPem = caCert.toString('pem');
  await mkdir(dir, { recursive: true });
  const caCertPath = join(dir, 'ca.pem');
  await writeFile(caCertPath, caCertPem, { mode: 0o644 });
  return { caCertPath, caCertPem, serverCertPem: serverCert.toString('pem'), serverKeyPem: pem('PRIVATE KEY', serverKeyDer) };
}

/** A positive 16-byte serial in hex; the leading 0x01..0x7f byte keeps it positive in DER. */
function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 1) & 0x7f) | 0x01;
  return Buffer.from(bytes).toString('hex');
}

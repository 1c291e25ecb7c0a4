// WebCrypto answers to the validator's crypto requests: browsers and Node 20+ (globalThis.crypto).
import { DnssecAlgorithm } from '../core/constants.js';
import type { DigestName, DnssecCrypto } from '../core/crypto-ops.js';
import { rsaPublicKeyParts } from '../keys/key-data.js';

/** The part of WebCrypto's `SubtleCrypto` used here (structural, so no DOM types are needed). */
export interface SubtleCryptoLike {
  importKey(
    format: 'raw' | 'jwk',
    keyData: Uint8Array | Record<string, unknown>,
    algorithm: Record<string, unknown>,
    extractable: boolean,
    usages: ['verify'],
  ): Promise<unknown>;
  verify(
    algorithm: Record<string, unknown>,
    key: unknown,
    signature: Uint8Array,
    data: Uint8Array,
  ): Promise<boolean>;
  digest(algorithm: DigestName, data: Uint8Array): Promise<ArrayBuffer>;
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function base64Url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let c = 0; c < chars; c++) out += BASE64URL[(n >>> (18 - 6 * c)) & 63];
  }
  return out;
}

function uncompressedPoint(xy: Uint8Array): Uint8Array {
  const p = new Uint8Array(xy.length + 1);
  p[0] = 4; // SEC 1 2.3.3: 0x04 || x || y
  p.set(xy, 1);
  return p;
}

/** The key import and verify parameters for one DNSSEC algorithm, or undefined. */
function webParams(
  algorithm: number,
  publicKey: Uint8Array,
):
  | {
      format: 'raw' | 'jwk';
      key: Uint8Array | Record<string, unknown>;
      importAlg: Record<string, unknown>;
      verifyAlg: Record<string, unknown>;
    }
  | undefined {
  switch (algorithm) {
    case DnssecAlgorithm.ED25519:
      if (publicKey.length !== 32) return undefined;
      return {
        format: 'raw',
        key: publicKey,
        importAlg: { name: 'Ed25519' },
        verifyAlg: { name: 'Ed25519' },
      };
    case DnssecAlgorithm.ECDSAP256SHA256:
    case DnssecAlgorithm.ECDSAP384SHA384: {
      const p256 = algorithm === DnssecAlgorithm.ECDSAP256SHA256;
      if (publicKey.length !== (p256 ? 64 : 96)) return undefined;
      return {
        format: 'raw',
        key: uncompressedPoint(publicKey),
        importAlg: { name: 'ECDSA', namedCurve: p256 ? 'P-256' : 'P-384' },
        verifyAlg: { name: 'ECDSA', hash: p256 ? 'SHA-256' : 'SHA-384' },
      };
    }
    case DnssecAlgorithm.RSASHA256:
    case DnssecAlgorithm.RSASHA512: {
      const { e, n } = rsaPublicKeyParts(publicKey);
      const hash = algorithm === DnssecAlgorithm.RSASHA256 ? 'SHA-256' : 'SHA-512';
      return {
        format: 'jwk',
        key: { kty: 'RSA', n: base64Url(n), e: base64Url(e), ext: true },
        importAlg: { name: 'RSASSA-PKCS1-v1_5', hash },
        verifyAlg: { name: 'RSASSA-PKCS1-v1_5' },
      };
    }
    default:
      return undefined;
  }
}

/**
 * Validation crypto on WebCrypto (`globalThis.crypto.subtle` unless given): Ed25519, ECDSA
 * P-256/P-384 and RSA verification, SHA-1/256/384 digests. A key WebCrypto refuses (not a
 * curve point, an algorithm the browser lacks) verifies nothing.
 *
 * @example
 * const r = await validateResponseWith(webCryptoDnssec(), input);
 */
export function webCryptoDnssec(subtle?: SubtleCryptoLike): DnssecCrypto {
  const s = subtle ?? (globalThis.crypto?.subtle as unknown as SubtleCryptoLike | undefined);
  if (!s) throw new TypeError('WebCrypto (crypto.subtle) is not available in this context');
  return {
    async verify(algorithm, publicKey, data, signature) {
      try {
        const p = webParams(algorithm, publicKey);
        if (!p) return false;
        const key = await s.importKey(p.format, p.key, p.importAlg, false, ['verify']);
        return await s.verify(p.verifyAlg, key, signature, data);
      } catch {
        return false;
      }
    },
    async digest(hash, data) {
      return new Uint8Array(await s.digest(hash, data));
    },
  };
}

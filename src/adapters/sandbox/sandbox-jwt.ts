import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

/** The sandbox authority's RS256 signing key; its public half is served as JWKS. */
export class SandboxSigningKey {
  readonly kid: string;
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;

  private constructor(privateKeyPem: string, kid: string) {
    this.privateKey = createPrivateKey(privateKeyPem);
    this.publicKey = createPublicKey(this.privateKey);
    this.kid = kid;
  }

  /** Reuses a stored key (tokens stay valid across restarts) or makes one and hands it to `save`. */
  static loadOrCreate(stored: string | undefined, save: (serialized: string) => void): SandboxSigningKey {
    if (stored) {
      const { pem, kid } = JSON.parse(stored) as { pem: string; kid: string };
      return new SandboxSigningKey(pem, kid);
    }
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const kid = `sandbox-${Date.now().toString(36)}`;
    save(JSON.stringify({ pem, kid }));
    return new SandboxSigningKey(pem, kid);
  }

  jwk(): Record<string, unknown> {
    return { kty: 'RSA', use: 'sig', kid: this.kid, x5t: this.kid, ...this.publicKey.export({ format: 'jwk' }), alg: 'RS256' };
  }

  sign(claims: Record<string, unknown>): string {
    const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid: this.kid }));
    const payload = base64url(JSON.stringify(claims));
    const signature = sign('sha256', Buffer.from(`${header}.${payload}`), this.privateKey).toString('base64url');
    return `${header}.${payload}.${signature}`;
  }

  /** The claims of a token this key signed, or undefined when it is malformed or forged. */
  verify(token: string): Record<string, unknown> | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [header, payload, signature] = parts as [string, string, string];
    try {
      if (!verify('sha256', Buffer.from(`${header}.${payload}`), this.publicKey, Buffer.from(signature, 'base64url'))) return undefined;
      const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      return typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }
}

export function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/**
 * Redaction applied to every log line: by field name (anything that names a secret) and by value
 * shape (bearer tokens, JWTs, our API keys, refresh-token-like blobs in URLs), at any depth.
 */
export const REDACTED = '[REDACTED]';

const secretKey = /pass(word)?|secret|token|authorization|api[-_]?key|cookie|credential|assertion|code_verifier|^key$/i;

const secretValuePatterns: readonly RegExp[] = [
  /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi,
  /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, // JWT
  /\bm365b_[A-Za-z0-9_-]{16,}/g, // our API keys
  /\b(refresh_token|access_token|client_secret|code|code_verifier|password|id_token)=[^&\s"]+/gi,
];

export function redactString(value: string): string {
  let out = value;
  for (const pattern of secretValuePatterns) {
    out = out.replace(pattern, (match) => {
      const eq = match.indexOf('=');
      if (eq > 0 && !match.toLowerCase().startsWith('bearer')) return `${match.slice(0, eq + 1)}${REDACTED}`;
      return REDACTED;
    });
  }
  return out;
}

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[TRUNCATED]';
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return { name: value.name, message: redactString(value.message), code: (value as { code?: unknown }).code, stack: value.stack === undefined ? undefined : redactString(value.stack) };
  }
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = secretKey.test(key) && item !== undefined && item !== null && typeof item !== 'boolean' ? REDACTED : redact(item, depth + 1);
  }
  return out;
}

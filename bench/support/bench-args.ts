/** A whole number of at least 1: what most benchmark settings take. */
export function positiveInteger(_key: string, value: number): boolean {
  return Number.isInteger(value) && value >= 1;
}

/**
 * Reads `--kebab-name value` pairs over numeric defaults (`--page-limit 5` sets `pageLimit`). A name
 * not in `defaults`, or a value `valid` refuses, throws `usage` with what was given.
 */
export function parseBenchArgs<T extends object>(args: readonly string[], defaults: T, usage: string, valid: (key: string, value: number) => boolean = positiveInteger): T {
  const settings: Record<string, number> = { ...(defaults as Record<string, number>) };
  for (let i = 0; i < args.length; i += 2) {
    const key = args[i]?.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const value = Number(args[i + 1]);
    if (key === undefined || !(key in defaults) || !valid(key, value)) throw new Error(`usage: ${usage} (got ${args.join(' ')})`);
    settings[key] = value;
  }
  return settings as T;
}

import { useEffect, useState } from 'preact/hooks';

export type Role = 'admin' | 'reader';
export interface Session {
  readonly role: Role;
}

const keyName = 'm365-bridge.apiKey';
const roleName = 'm365-bridge.role';
const listeners = new Set<() => void>();
let reason: string | undefined;

// The key lives in sessionStorage only (gone when the tab closes); never in localStorage or a cookie.
function read(): Session | undefined {
  const key = sessionStorage.getItem(keyName);
  const role = sessionStorage.getItem(roleName);
  return key !== null && (role === 'admin' || role === 'reader') ? { role } : undefined;
}

export function currentKey(): string | undefined {
  return sessionStorage.getItem(keyName) ?? undefined;
}

export function signIn(key: string, role: Role): void {
  sessionStorage.setItem(keyName, key);
  sessionStorage.setItem(roleName, role);
  reason = undefined;
  listeners.forEach((notify) => notify());
}

export function signOut(why?: string): void {
  sessionStorage.removeItem(keyName);
  sessionStorage.removeItem(roleName);
  reason = why;
  listeners.forEach((notify) => notify());
}

/** The signed-in session (undefined when signed out) and why the last one ended, if it was ended for the user. */
export function useSession(): { session: Session | undefined; reason: string | undefined } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const notify = (): void => setTick((n) => n + 1);
    listeners.add(notify);
    return () => void listeners.delete(notify);
  }, []);
  return { session: read(), reason };
}

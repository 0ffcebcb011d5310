import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { signIn, type Role } from '../session';
import { ErrorNote, Field } from '../components/ui';

/** Which kind of key this is: admin keys may list keys, reader keys are refused (403), unknown keys are not accepted (401). */
async function roleOf(key: string): Promise<Role> {
  let response: Response;
  try {
    response = await fetch('/api/keys?limit=1', { headers: { 'x-api-key': key } });
  } catch {
    throw new Error('The service did not answer. Check that it is running, then try again.');
  }
  if (response.status === 200) return 'admin';
  if (response.status === 403) return 'reader';
  if (response.status === 401) throw new Error('This API key is not accepted. Check it and try again.');
  throw new Error(`The service answered ${response.status}. Try again in a moment.`);
}

export function SignIn({ reason }: { reason: string | undefined }): JSX.Element {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>(reason);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      signIn(key.trim(), await roleOf(key.trim()));
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <h1>m365-bridge console</h1>
      <p>Sign in with an API key. An admin key can change everything; a reader key shows a read-only console. The key is kept in this browser tab only, until you sign out or close it.</p>
      <form onSubmit={submit}>
        <Field label="API key">
          <input type="password" name="apiKey" autoComplete="off" required minLength={24} value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        </Field>
        <ErrorNote message={error} />
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}

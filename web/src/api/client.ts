import createClient from 'openapi-fetch';
import type { components, paths } from './schema';
import { currentKey, signOut } from '../session';

/** The public admin API, typed from the OpenAPI document generated at build time. */
export const api = createClient<paths>({ baseUrl: '/' });

api.use({
  onRequest({ request }) {
    const key = currentKey();
    if (key !== undefined) request.headers.set('x-api-key', key);
    return request;
  },
  onResponse({ response }) {
    // A revoked or expired key ends the session: the sign-in page asks again.
    if (response.status === 401 && currentKey() !== undefined) signOut('Your API key is no longer accepted. Sign in again.');
    return response;
  },
});

interface ErrorBody {
  readonly error?: { readonly code?: string; readonly message?: string };
}

/** An API answer that is not a success, with the API's own message (which names the field). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

/** The data of a successful answer, or an ApiFailure carrying the API's message. */
export async function ok<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let answer: { data?: T; error?: unknown; response: Response };
  try {
    answer = await call;
  } catch {
    throw new ApiFailure(0, 'NETWORK', 'The service did not answer. Check that it is running, then try again.');
  }
  if (answer.response.ok) return answer.data as T;
  const body = answer.error as ErrorBody | undefined;
  throw new ApiFailure(answer.response.status, body?.error?.code ?? 'HTTP_' + answer.response.status, body?.error?.message ?? `The service answered ${answer.response.status}.`);
}

export type Schemas = components['schemas'];

import type { TokenCredential } from '@azure/identity';

/**
 * The audience Entra ID expects of a token exchanged through a federated identity credential
 * (public cloud; the registration's credential names the same audience).
 */
export const tokenExchangeScope = 'api://AzureADTokenExchange/.default';

/**
 * A client assertion callback for msal-node: the managed identity's token for the token exchange
 * audience. The app registration's federated identity credential trusts that identity, so the app
 * proves who it is without a client secret. `credential` is a ManagedIdentityCredential in Azure.
 */
export function managedIdentityAssertion(credential: TokenCredential): () => Promise<string> {
  return async () => {
    const token = await credential.getToken(tokenExchangeScope);
    if (token === null) throw new Error('the managed identity returned no token for api://AzureADTokenExchange');
    return token.token;
  };
}

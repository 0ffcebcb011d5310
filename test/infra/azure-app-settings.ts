import { bicepSource, blockAfter, stringLiteral, topLevelProperties } from './bicep-text';

/** The app settings function-app.bicep always gives the function app (the optional notice relay's aside), as written. */
export function templateAppSettings(): Map<string, string> {
  return topLevelProperties(blockAfter(bicepSource('modules/function-app.bicep'), 'var settings ='));
}

/** A main.bicep parameter's default value (a string literal). */
export function mainParameterDefault(name: string): string | undefined {
  const match = new RegExp(`^param ${name} string = (.+)$`, 'm').exec(bicepSource('main.bicep'));
  return match === null ? undefined : stringLiteral((match[1] as string).trim());
}

/**
 * The environment the Functions host would give the app: every setting of the template, literals as
 * written, expressions as values of the shape Azure fills in (the deployment's outputs), Key Vault
 * references resolved, and parameters at their defaults.
 */
export function azureAppSettings(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of templateAppSettings()) {
    const literal = stringLiteral(value);
    if (literal !== undefined) env[name] = literal;
    else if (/^'@Microsoft\.KeyVault\(/.test(value)) env[name] = 'resolved-from-key-vault-0123456789abcdef';
    else if (/ConnectionString$/.test(value)) env[name] = 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://region.in.applicationinsights.azure.com/';
    else if (/Endpoint$|Uri$|Url$/i.test(value)) env[name] = 'https://resource.example.net/';
    else if (/^serviceBusNamespace$/.test(value)) env[name] = 'sb-example.servicebus.windows.net';
    else if (/^[A-Za-z]+$/.test(value) && mainParameterDefault(value) !== undefined) env[name] = mainParameterDefault(value) as string;
    else env[name] = `value-of-${value.replace(/[^A-Za-z0-9]+/g, '-')}`;
  }
  return env;
}

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/app/config';
import { delegatedGraphScopes } from '../../src/adapters/msal/delegated-scopes';
import { containerNames } from '../../src/domain/ports/document-store';
import { functionTable } from '../../functions/table';
import { azureAppSettings, templateAppSettings } from './azure-app-settings';
import { bicepDir, bicepSource, blockAfter, stringLiteral, topLevelProperties } from './bicep-text';
import { readmeQueues, readmeTable } from './readme-tables';

const main = bicepSource('main.bicep');
const functionsHost = { FUNCTIONS_WORKER_RUNTIME: 'node', WEBSITE_INSTANCE_ID: 'parity' };

/** `{ name: 'x', sessions: true }` entries of an array body. */
function objectEntries(body: string): Map<string, string>[] {
  return [...body.matchAll(/\{([^{}]*)\}/g)].map((m) => new Map([...(m[1] as string).matchAll(/(\w+):\s*('(?:[^'\\]|\\.)*'|[\w.-]+)/g)].map((p) => [p[1] as string, p[2] as string])));
}

describe('infra/bicep', () => {
  it('declares exactly the queues of the function table, sessions where the README says, with its settings', () => {
    const declared = objectEntries(blockAfter(main, 'var queues ='));
    const byName = new Map(declared.map((q) => [stringLiteral(q.get('name') ?? '') ?? '', q.get('sessions')]));
    const triggered = functionTable.flatMap((d) => (d.kind === 'queue' ? [[d.queueName, d.sessions] as const] : []));
    expect([...byName.keys()].sort()).toEqual(triggered.map(([queue]) => queue).sort());
    for (const [queue, sessions] of triggered) expect([queue, byName.get(queue)]).toEqual([queue, String(sessions)]);
    expect(new Map([...byName].map(([q, s]) => [q, s === 'true']))).toEqual(readmeQueues());

    const queueResource = topLevelProperties(blockAfter(blockAfter(bicepSource('modules/servicebus.bicep'), /resource queue 'Microsoft\.ServiceBus\/namespaces\/queues@/), 'properties:'));
    expect(queueResource.get('requiresSession')).toBe('q.sessions');
    expect(queueResource.get('requiresDuplicateDetection')).toBe('true');
    const window = /^'PT(\d+)M'$/.exec(queueResource.get('duplicateDetectionHistoryTimeWindow') ?? '');
    expect(Number(window?.[1])).toBeGreaterThanOrEqual(10);
    expect(queueResource.get('maxDeliveryCount')).toBe(String(loadConfig({}).queueMaxDeliveries));
    expect(queueResource.get('lockDuration')).toBe("'PT1M'");
  });

  it('runs Service Bus Standard with local auth off', () => {
    const namespace = bicepSource('modules/servicebus.bicep');
    expect(topLevelProperties(blockAfter(namespace, 'sku:')).get('name')).toBe("'Standard'");
    expect(topLevelProperties(blockAfter(blockAfter(namespace, /resource namespace /), 'properties:')).get('disableLocalAuth')).toBe('true');
  });

  it('declares exactly the containers the document store uses, each /pk hash v2 with default TTL -1, serverless, local auth off', () => {
    const declared = [...blockAfter(main, 'var containers =').matchAll(/'([^']+)'/g)].map((m) => m[1]);
    expect([...declared].sort()).toEqual([...containerNames].sort());
    expect(readmeTable('### Storage layout').map(([name = '']) => name.replace(/`/g, '')).sort()).toEqual([...containerNames].sort());

    const cosmos = bicepSource('modules/cosmos.bicep');
    const resource = topLevelProperties(blockAfter(blockAfter(blockAfter(cosmos, /resource container 'Microsoft\.DocumentDB\/databaseAccounts\/sqlDatabases\/containers@/), 'properties:'), 'resource:'));
    expect(resource.get('defaultTtl')).toBe('-1');
    const key = topLevelProperties(blockAfter(blockAfter(cosmos, /resource container /), 'partitionKey:'));
    expect([key.get('kind'), key.get('version')]).toEqual(["'Hash'", '2']);
    expect(blockAfter(blockAfter(cosmos, /resource container /), 'paths:').trim()).toBe("'/pk'");
    const account = topLevelProperties(blockAfter(blockAfter(cosmos, /resource account /), 'properties:'));
    expect([account.get('disableLocalAuth'), account.get('disableKeyBasedMetadataWriteAccess')]).toEqual(['true', 'true']);
    expect(blockAfter(blockAfter(cosmos, /resource account /), 'capabilities:')).toContain("'EnableServerless'");
  });

  it('gives the app every setting its Azure configuration requires, and each one it requires is needed', () => {
    const settings = azureAppSettings();
    expect(() => loadConfig({ ...functionsHost, ...settings })).not.toThrow();
    const config = loadConfig({ ...functionsHost, ...settings });
    expect(config).toMatchObject({ m365Mode: 'live', m365Credential: { kind: 'managed-identity' } });
    expect([config.cosmosEndpoint, config.serviceBusNamespace, config.keyVaultUrl, config.adminApiKey]).not.toContain(undefined);
    // Each setting the service cannot start without is one the template sets.
    const required = Object.keys(settings).filter((name) => {
      try {
        loadConfig({ ...functionsHost, ...settings, [name]: undefined });
        return false;
      } catch (error) {
        return error instanceof ConfigError && error.variable === name;
      }
    });
    expect(required.sort()).toEqual(['COSMOS_ENDPOINT', 'KEYVAULT_URL', 'M365_CLIENT_ID', 'M365_MODE', 'SERVICEBUS_NAMESPACE'].sort());
  });

  it('connects triggers, storage and Application Insights by identity, with no key, secret or connection string', () => {
    const settings = templateAppSettings();
    const connections = new Set(functionTable.filter((d) => d.kind === 'queue').map(() => 'SERVICEBUS'));
    for (const connection of [...connections, 'AzureWebJobsStorage']) {
      expect(settings.has(connection)).toBe(false);
      expect(stringLiteral(settings.get(`${connection}__credential`) ?? '')).toBe('managedidentity');
      expect(settings.get(`${connection}__clientId`)).toBe('identityClientId');
    }
    expect(settings.get('SERVICEBUS__fullyQualifiedNamespace')).toBe(settings.get('SERVICEBUS_NAMESPACE'));
    expect(settings.get('AZURE_CLIENT_ID')).toBe('identityClientId');
    expect(settings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toBe("'ClientId=${identityClientId};Authorization=AAD'");
    expect(settings.get('NODE_OPTIONS')).toBe("'--max-old-space-size=1024'");
    expect(settings.has('M365_CLIENT_SECRET')).toBe(false);
    expect(bicepSource('modules/function-app.bicep')).toMatch(/resource appSettings 'config' = \{\s*name: 'appsettings'\s*properties: union\(settings,/);
    for (const file of bicepFiles()) {
      const text = bicepSource(file);
      expect([file, text.match(/listKeys|listConnectionStrings|AccountKey=|SharedAccessKey|passwordCredentials|keyCredentials|clientSecret/gi)]).toEqual([file, null]);
    }
    for (const [file, marker] of [['modules/storage.bicep', 'allowSharedKeyAccess: false'], ['modules/monitoring.bicep', 'DisableLocalAuth: true'], ['modules/keyvault.bicep', 'enablePurgeProtection: true']] as const) {
      expect([file, bicepSource(file).includes(marker)]).toEqual([file, true]);
    }
  });

  it('registers the app for every organization, with the README\'s delegated permissions and the identity as its only credential', () => {
    const registration = bicepSource('modules/app-registration.bicep');
    expect(registration).toMatch(/^extension microsoftGraphV1$/m);
    expect(JSON.parse(readFileSync(path.join(bicepDir, 'bicepconfig.json'), 'utf8')).extensions.microsoftGraphV1).toMatch(/^br:mcr\.microsoft\.com\/bicep\/extensions\/microsoftgraph\/v1\.0:/);
    const application = topLevelProperties(blockAfter(registration, /resource application 'Microsoft\.Graph\/applications@v1\.0'/));
    expect(application.get('signInAudience')).toBe("'AzureADMultipleOrgs'");
    const permissions = objectEntries(blockAfter(registration, 'var delegatedPermissions =')).map((p) => stringLiteral(p.get('value') ?? ''));
    expect(permissions).toEqual([...delegatedGraphScopes]);
    expect(readmeTable('### Microsoft Graph permissions').map(([name = '']) => name.replace(/`/g, ''))).toEqual([...delegatedGraphScopes]);
    const credential = topLevelProperties(blockAfter(registration, /resource managedIdentityCredential 'federatedIdentityCredentials@v1\.0'/));
    expect(credential.get('subject')).toBe('managedIdentityPrincipalId');
    expect(blockAfter(registration, 'audiences:').trim()).toBe("'api://AzureADTokenExchange'");
    expect(main).toMatch(/redirectUri: '\$\{publicBaseUrl\}\/api\/oauth\/callback'/);
    expect(templateAppSettings().get('PUBLIC_BASE_URL')).toBe('publicBaseUrl');
  });

  it('names each role assignment guid(scope, principal, role), from named role ids, in one module', () => {
    const roles = bicepSource('modules/role-assignments.bicep');
    const assignments = [...roles.matchAll(/resource (\w+) 'Microsoft\.Authorization\/roleAssignments@[^']+' = (?:if \([^)]*\) )?\{/g)];
    expect(assignments.length).toBeGreaterThan(0);
    for (const match of assignments) {
      const body = topLevelProperties(blockAfter(roles.slice(match.index), '{'));
      expect([match[1], body.get('name')]).toEqual([match[1], expect.stringMatching(/^guid\((\w+)\.id, (\w+), roles\.(\w+)\)$/)]);
    }
    for (const file of bicepFiles().filter((f) => f !== 'modules/role-assignments.bicep')) {
      expect([file, /roleAssignments@|sqlRoleAssignments@/.test(bicepSource(file))]).toEqual([file, false]);
    }
    expect(roles).toContain("cosmosBuiltInDataContributor = '00000000-0000-0000-0000-000000000002'");
  });
});

function bicepFiles(): string[] {
  const modules = readdirSync(path.join(bicepDir, 'modules')).map((f) => `modules/${f}`);
  return ['main.bicep', ...modules].filter((f) => f.endsWith('.bicep'));
}

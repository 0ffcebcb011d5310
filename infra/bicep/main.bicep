// m365-bridge in Azure: `azd up` from the repository root (azure.yaml) deploys this template and
// then the package `npm run package` builds. README "Deploy to Azure" says what it creates.

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names and tags every resource.')
param environmentName string

@minLength(1)
@description('Region of every resource; it must offer the Flex Consumption plan.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of whoever runs `azd up` (AZURE_PRINCIPAL_ID); may manage Key Vault secrets. Empty: nobody.')
param deployerPrincipalId string = ''
@allowed(['User', 'ServicePrincipal', 'Group'])
param deployerPrincipalType string = 'User'

@description('NCRONTAB schedule (six fields, seconds first) of the reconcile timer.')
param reconcileSchedule string = '0 */15 * * * *'

@description('Graph writes the whole app may make per 5 minutes across tenants (GRAPH_APP_WRITES_PER_5_MINUTES); Graph allows 35,000. Lower it when other tools share the app registration.')
param graphAppWriteLimit string = '35000'

@description('Graph writes per tenant per 150 seconds (GRAPH_TENANT_WRITES_PER_150_SECONDS); Graph allows 3,000.')
param graphTenantWriteLimit string = '3000'

@description('Sender of binding notices (NOTICE_FROM); empty: no-reply at the app\'s host name.')
param noticeFrom string = ''
@description('SMTP relay for binding notices (NOTICE_SMTP_HOST); empty: none.')
param noticeSmtpHost string = ''
@description('Relay login (NOTICE_SMTP_USER); its password is the Key Vault secret notice-smtp-password.')
param noticeSmtpUser string = ''

@description('Display name of the multi-tenant app registration administrators consent to.')
param appDisplayName string = 'm365-bridge (${environmentName})'

var tags = { 'azd-env-name': environmentName }
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var functionAppName = 'func-${resourceToken}'
var publicBaseUrl = 'https://${functionAppName}.azurewebsites.net'
var deploymentContainerName = 'app-package-${resourceToken}'
var cosmosDatabaseName = 'm365-bridge'

// One queue per queue of the function table (README "Work queues"), sessions where it says so.
var queues = [
  { name: 'provisioning', sessions: true }
  { name: 'directory-commands', sessions: false }
  { name: 'imports', sessions: false }
  { name: 'group-sync', sessions: true }
  { name: 'reconcile', sessions: false }
  { name: 'notices', sessions: false }
  { name: 'subscriptions', sessions: false }
  { name: 'plans', sessions: false }
]

// One container per kind of record of the document store (README "Storage layout").
var containers = [
  'users'
  'groups'
  'memberships'
  'uniques'
  'keys'
  'connections'
  'bindings'
  'events'
  'jobs'
  'leases'
  'plans'
  'state'
]

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    deploymentContainerName: deploymentContainerName
    location: location
    tags: tags
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    name: 'sb-${resourceToken}'
    queues: queues
    location: location
    tags: tags
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    name: 'cosmos-${resourceToken}'
    databaseName: cosmosDatabaseName
    containers: containers
    location: location
    tags: tags
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
  }
}

module appRegistration 'modules/app-registration.bicep' = {
  name: 'app-registration'
  scope: rg
  params: {
    uniqueName: 'm365-bridge-${resourceToken}'
    displayName: appDisplayName
    redirectUri: '${publicBaseUrl}/api/oauth/callback'
    managedIdentityPrincipalId: identity.outputs.principalId
  }
}

module roleAssignments 'modules/role-assignments.bicep' = {
  name: 'role-assignments'
  scope: rg
  params: {
    identityPrincipalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    cosmosAccountName: cosmos.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    deployerPrincipalId: deployerPrincipalId
    deployerPrincipalType: deployerPrincipalType
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabaseName: cosmos.outputs.databaseName
    serviceBusNamespace: serviceBus.outputs.fullyQualifiedNamespace
    keyVaultUri: keyVault.outputs.uri
    m365ClientId: appRegistration.outputs.clientId
    publicBaseUrl: publicBaseUrl
    reconcileSchedule: reconcileSchedule
    graphAppWriteLimit: graphAppWriteLimit
    graphTenantWriteLimit: graphTenantWriteLimit
    noticeFrom: noticeFrom
    noticeSmtpHost: noticeSmtpHost
    noticeSmtpUser: noticeSmtpUser
  }
  // The app starts as soon as it exists: its identity must already hold its roles.
  dependsOn: [
    roleAssignments
  ]
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = functionApp.outputs.name
output PUBLIC_BASE_URL string = publicBaseUrl
output M365_CLIENT_ID string = appRegistration.outputs.clientId
output KEYVAULT_NAME string = keyVault.outputs.name
output KEYVAULT_URL string = keyVault.outputs.uri
output SERVICEBUS_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint

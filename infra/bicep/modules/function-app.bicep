// The function app on the Flex Consumption plan (Linux, Node.js 22) and every app setting the
// service reads in Azure (README "Configuration"). No connection string, key or secret: each
// service is reached with the user-assigned identity, and ADMIN_API_KEY is a Key Vault reference.

param name string
param planName string
param location string
param tags object

param identityId string
param identityClientId string

param storageAccountName string
param storageBlobEndpoint string
param deploymentContainerName string

param applicationInsightsConnectionString string
param cosmosEndpoint string
param cosmosDatabaseName string
param serviceBusNamespace string
param keyVaultUri string
param m365ClientId string
param publicBaseUrl string

@description('NCRONTAB schedule of the reconcile timer (the timer registers as %RECONCILE_SCHEDULE%).')
param reconcileSchedule string

@description('GRAPH_APP_WRITES_PER_5_MINUTES: the app-wide Graph write budget.')
param graphAppWriteLimit string

@description('GRAPH_TENANT_WRITES_PER_150_SECONDS: the per-tenant Graph write budget.')
param graphTenantWriteLimit string

@description('NOTICE_FROM; empty: no-reply at the app\'s host name.')
param noticeFrom string = ''
@description('NOTICE_SMTP_HOST; empty: no relay, notices wait in the store\'s outbox.')
param noticeSmtpHost string = ''
@description('NOTICE_SMTP_USER; its password is the Key Vault secret notice-smtp-password.')
param noticeSmtpUser string = ''

@description('Upper bound of instances the plan may scale out to.')
param maximumInstanceCount int = 40

// Every app setting the service reads in Azure.
var settings = {
  // Host storage by identity (Flex Consumption; shared keys are off on the account).
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // Application Insights with Entra ID ingestion (local auth is off on the component).
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // DefaultAzureCredential picks the user-assigned identity by this client id.
  AZURE_CLIENT_ID: identityClientId
  COSMOS_ENDPOINT: cosmosEndpoint
  COSMOS_DATABASE: cosmosDatabaseName
  // The sender (SERVICEBUS_NAMESPACE) and the trigger's identity-based connection `SERVICEBUS`.
  SERVICEBUS_NAMESPACE: serviceBusNamespace
  SERVICEBUS__fullyQualifiedNamespace: serviceBusNamespace
  SERVICEBUS__credential: 'managedidentity'
  SERVICEBUS__clientId: identityClientId
  KEYVAULT_URL: keyVaultUri
  M365_MODE: 'live'
  // No M365_CLIENT_SECRET: msal-node proves the app with the identity's token (AZURE_CLIENT_ID).
  M365_CLIENT_ID: m365ClientId
  PUBLIC_BASE_URL: publicBaseUrl
  // Resolved by the platform with the identity; the secret `admin-api-key` is created once after
  // provisioning (README "Deploy to Azure"). The service refuses to start on an unresolved reference.
  ADMIN_API_KEY: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/admin-api-key/)'
  RECONCILE_SCHEDULE: reconcileSchedule
  GRAPH_APP_WRITES_PER_5_MINUTES: graphAppWriteLimit
  GRAPH_TENANT_WRITES_PER_150_SECONDS: graphTenantWriteLimit
  NODE_OPTIONS: '--max-old-space-size=1024'
  // The admin console answers at the site root (host.json has no route prefix): not the host's own page.
  AzureWebJobsDisableHomepage: 'true'
}

// Optional settings, present only when given: app settings are replaced as a whole on every
// deployment, so whatever the service should keep is set through the template.
var noticeFromSetting = empty(noticeFrom) ? {} : { NOTICE_FROM: noticeFrom }
var noticeRelaySetting = empty(noticeSmtpHost) ? {} : { NOTICE_SMTP_HOST: noticeSmtpHost }
var noticeLoginSettings = empty(noticeSmtpUser) ? {} : {
  NOTICE_SMTP_USER: noticeSmtpUser
  NOTICE_SMTP_PASSWORD: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/notice-smtp-password/)'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd finds the app to deploy the `api` service of azure.yaml to by this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }

  resource appSettings 'config' = {
    name: 'appsettings'
    properties: union(settings, noticeFromSetting, noticeRelaySetting, noticeLoginSettings)
  }
}

// Publishing with basic credentials (FTP, SCM user and password) is off: azd deploys with Entra ID.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName

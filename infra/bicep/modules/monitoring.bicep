// Log Analytics and workspace-based Application Insights; ingestion needs Entra ID (local auth off),
// so the app publishes with its identity (Monitoring Metrics Publisher, see role-assignments.bicep).

param logAnalyticsName string
param applicationInsightsName string
param location string
param tags object

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
    features: {
      disableLocalAuth: true
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

output applicationInsightsName string = applicationInsights.name
// The connection string names the resource and its ingestion endpoint; with local auth off it
// grants nothing without an Entra token.
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString

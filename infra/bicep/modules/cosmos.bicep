// Cosmos DB for NoSQL, serverless, Entra ID only (local auth off, no key-based metadata writes).
// The database and one container per kind of record: Entra-authenticated clients cannot create
// them, so the template does.

param name string
param databaseName string
param location string
param tags object

@description('The document store\'s containers (README "Storage layout"); each has partition key /pk.')
param containers string[]

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    capabilities: [
      {
        name: 'EnableServerless'
      }
    ]
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
  }
}

// Default TTL -1: nothing expires unless a document carries its own ttl.
resource container 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [
  for containerName in containers: {
    parent: database
    name: containerName
    properties: {
      resource: {
        id: containerName
        partitionKey: {
          paths: [
            '/pk'
          ]
          kind: 'Hash'
          version: 2
        }
        defaultTtl: -1
      }
    }
  }
]

output name string = account.name
output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name

// Service Bus namespace and the work queues. Standard tier: sessions and duplicate detection need
// it. Local (SAS) auth off: senders and the Functions trigger use the app's identity.

param name string
param location string
param tags object

type queueType = {
  name: string
  @description('Session-enabled: one session\'s messages in order, never to two receivers at once.')
  sessions: bool
}

@description('One entry per queue of the function table.')
param queues queueType[]

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

// The settings the README's queue table states for every queue: message ids de-duplicated for
// 10 minutes, a 1-minute peek-lock, dead-lettering after 10 deliveries (QUEUE_MAX_DELIVERIES).
resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [
  for q in queues: {
    parent: namespace
    name: q.name
    properties: {
      requiresSession: q.sessions
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: 'PT10M'
      lockDuration: 'PT1M'
      maxDeliveryCount: 10
      deadLetteringOnMessageExpiration: true
      defaultMessageTimeToLive: 'P14D'
      enableBatchedOperations: true
    }
  }
]

output name string = namespace.name
// The namespace host name (myns.servicebus.windows.net), what SERVICEBUS_NAMESPACE and the trigger's
// SERVICEBUS__fullyQualifiedNamespace take.
output fullyQualifiedNamespace string = split(replace(namespace.properties.serviceBusEndpoint, 'https://', ''), ':')[0]

// Service Bus Premium namespace of the zone with the order-events queue (ARCHITECTURE §6).
// The queue properties are the ones the order trigger relies on; test/infra/expectations.ts
// holds the same values and the infra tests compare the two.
param name string
param location string
param tags object = {}
param messagingUnits int = 1
@description('Premium partitions (1, 2 or 4); set once, at namespace creation.')
param partitions int = 1
param queueName string = 'order-events'
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Premium'
    tier: 'Premium'
    capacity: messagingUnits
  }
  properties: {
    // Entra ID only: no SAS keys to leak or rotate.
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: publicNetworkAccess
    premiumMessagingPartitions: partitions
  }
}

resource orderEvents 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = {
  parent: namespace
  name: queueName
  properties: {
    // Session id {region}:{orderId}: one order's versions are handled in order, one at a time.
    requiresSession: true
    // Message id {region}:{orderId}:{version}: a re-published version is dropped by the broker.
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    // A message that keeps failing reaches the dead-letter queue instead of looping forever.
    maxDeliveryCount: 10
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P14D'
    lockDuration: 'PT1M'
    // Premium partitioning is a namespace property; queue-level partitioning is a Standard-tier
    // feature and must stay off here.
    enablePartitioning: false
    enableBatchedOperations: true
  }
}

output id string = namespace.id
output name string = namespace.name
output queueName string = orderEvents.name
// https://<ns>.servicebus.windows.net:443/ -> <ns>.servicebus.windows.net (.chinacloudapi.cn in Azure China)
output fqdn string = split(split(namespace.properties.serviceBusEndpoint, '/')[2], ':')[0]

// Every data-plane permission of a zone, at the narrowest scope that works:
//   app identity  -> storage account: blob owner, queue + table contributor (host state, Durable
//                    Azure Storage backend, Flex deployment container, staging container)
//                 -> order-events queue (not the namespace): data receiver + sender (trigger,
//                    dead-letter replay), and data owner for trigger scale monitoring (optional)
//                 -> Key Vault: secrets user (read Key Vault references)
//                 -> Application Insights: monitoring metrics publisher (Entra ID ingestion)
//   deployer      -> Key Vault: secrets officer (to set the cross-border SQL secrets)
//   CRM publishers -> order-events queue: data sender
param identityPrincipalId string
param storageAccountName string
param serviceBusNamespaceName string
param orderQueueName string
param serviceBusTriggerOwnerRole bool = true
param keyVaultName string
param appInsightsName string
param deployerPrincipalId string = ''
@allowed([
  'User'
  'ServicePrincipal'
])
param deployerPrincipalType string = 'User'
@description('Object ids of the CRM identities that publish to order-events.')
param orderPublisherPrincipalIds array = []

// Built-in role definition ids (the same in every Azure cloud).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' existing = {
  name: serviceBusNamespaceName
}

resource orderQueue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' existing = {
  parent: serviceBus
  name: orderQueueName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

var storageRoles = [
  roles.storageBlobDataOwner
  roles.storageQueueDataContributor
  roles.storageTableDataContributor
]

resource appStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in storageRoles: {
    name: guid(storage.id, identityPrincipalId, roleId)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: identityPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

var queueRoles = concat([
  roles.serviceBusDataReceiver
  roles.serviceBusDataSender
], serviceBusTriggerOwnerRole ? [
  roles.serviceBusDataOwner
] : [])

resource appQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in queueRoles: {
    name: guid(orderQueue.id, identityPrincipalId, roleId)
    scope: orderQueue
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: identityPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource appSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identityPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appMetrics 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identityPrincipalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource deployerSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

resource publishers 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for publisherId in orderPublisherPrincipalIds: {
    name: guid(orderQueue.id, publisherId, roles.serviceBusDataSender)
    scope: orderQueue
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
      principalId: publisherId
      // Publishers may be managed identities or app registrations; ServicePrincipal covers both.
      principalType: 'ServicePrincipal'
    }
  }
]

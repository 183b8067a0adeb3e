// Region Sync: one data-residency zone per azd environment (docs/deploy.md).
// The hub zone (cn) and every overseas zone (sea, eu, latam, ...) is its own deployment of this
// template: its own resource group, Function App, Service Bus namespace, storage, Key Vault and
// monitoring, so that nothing a zone stores or processes leaves it except the policy-filtered
// rows that the sync itself writes across the border. A mainland China zone is deployed the same
// way from an azd environment whose cloud is AzureChinaCloud.
targetScope = 'subscription'

// ---------------------------------------------------------------------------------------------
// azd environment
// ---------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('Name of the azd environment (one per zone, e.g. regionsync-cn). Seeds the resource token.')
param environmentName string

// No @allowed list: regions of sovereign clouds (chinanorth3, chinaeast2, ...) must be accepted.
@minLength(1)
@description('Azure region of this zone. Check that it offers the chosen hosting plan (docs/deploy.md).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the person or pipeline running azd. Gets the data-plane roles needed to set the cross-border SQL secrets and open the DTS dashboard. Empty: none.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

// ---------------------------------------------------------------------------------------------
// Zone and topology
// ---------------------------------------------------------------------------------------------

@minLength(2)
@maxLength(6)
@description('Region id (from the topology document) of the zone this deployment hosts: cn, sea, eu, latam. Lower-case letters and digits only; it is part of resource names.')
param zone string

@allowed([
  'hub'
  'spoke'
])
@description('Role of this zone in the topology document.')
param zoneRole string

@description('Comma-separated region ids whose databases this zone writes to across the border (the spokes for the hub, the hub for a spoke). Their connection strings are Key Vault secrets sql-<region> that the operator sets (docs/deploy.md).')
param peerRegions string = ''

@description('Path, inside the deployed package, of the topology document shared by every zone (REGION_SYNC_TOPOLOGY_PATH).')
param topologyPath string = 'config/topology.json'

@minValue(1)
@maxValue(365)
@description('Days after which staged pages are purged, by the app and by a storage lifecycle rule as a backstop.')
param stagingRetentionDays int = 7
@description('Days a batch run\'s history record is kept (REGION_SYNC_RUN_RETENTION_DAYS).')
param runRetentionDays int = 45

// ---------------------------------------------------------------------------------------------
// Hosting
// ---------------------------------------------------------------------------------------------

@allowed([
  'FlexConsumption'
  'ElasticPremium'
])
@description('FlexConsumption with always-ready instances (default), or ElasticPremium where Flex is not offered. The MSSQL Durable backend forces ElasticPremium.')
param hostingPlan string = 'FlexConsumption'

@allowed([
  '20'
  '22'
])
param nodeVersion string = '20'

@minValue(1)
@maxValue(20)
@description('Instances kept warm for the order path: the order trigger and the durable group on Flex; minimum elastic instances on Elastic Premium.')
param alwaysReadyInstances int = 1

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param elasticPremiumSku string = 'EP1'

@description('Name under which the app registers its Service Bus trigger for order-events (test/infra/expectations.ts). Gets its own always-ready instances on Flex.')
param orderTriggerFunctionName string = 'orderEvents'

// ---------------------------------------------------------------------------------------------
// Durable Functions backend (host.json-equivalent app settings)
// ---------------------------------------------------------------------------------------------

@allowed([
  'AzureStorage'
  'DurableTaskScheduler'
  'MSSQL'
])
param durableBackend string = 'AzureStorage'

@description('Task hub name. Letters and digits only, 3 to 45 characters (the Azure Storage backend is the strictest).')
param taskHubName string = 'RegionSync'

@allowed([
  'Consumption'
  'Dedicated'
])
param durableTaskSchedulerSku string = 'Consumption'

// ---------------------------------------------------------------------------------------------
// Regional SQL
// ---------------------------------------------------------------------------------------------

@description('FQDN of the Azure SQL server holding this zone\'s own CRM database. With it, the sql-<zone> secret is written with Entra ID (managed identity) authentication. Empty: the operator sets that secret.')
param sqlServerFqdn string = ''

@description('Name of this zone\'s CRM database on sqlServerFqdn.')
param sqlDatabaseName string = ''

@description('Database on sqlServerFqdn for the Durable MSSQL backend; used only when durableBackend is MSSQL.')
param durableSqlDatabaseName string = ''

// ---------------------------------------------------------------------------------------------
// Service Bus
// ---------------------------------------------------------------------------------------------

@allowed([
  1
  2
  4
  8
  16
])
param serviceBusMessagingUnits int = 1

@allowed([
  1
  2
  4
])
@description('Premium partitions; fixed at namespace creation. More than 1 only when one messaging unit is not enough; sessions keep an order on one partition, so duplicate detection by message id still holds.')
param serviceBusPartitions int = 1

@description('Give the app identity Azure Service Bus Data Owner on the order-events queue (queue scope only). Functions lists it for Service Bus trigger scale monitoring; set false to keep receiver/sender only.')
param serviceBusTriggerOwnerRole bool = true

@description('Comma-separated object ids of the CRM identities that publish to order-events; each gets Azure Service Bus Data Sender on the queue.')
param orderPublisherPrincipalIds string = ''

// ---------------------------------------------------------------------------------------------
// Network and protection
// ---------------------------------------------------------------------------------------------

@description('Private endpoints for storage, Service Bus and Key Vault; public network access to them is then disabled.')
param vnetEnabled bool = false

@description('Key Vault purge protection. Cannot be turned off once on; leave on in production.')
param keyVaultPurgeProtection bool = true

@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  'region-sync-zone': zone
  'region-sync-role': zoneRole
}
var functionAppName = '${abbrs.webSitesFunctions}${zone}-${resourceToken}'
var storageAccountName = take('${abbrs.storageStorageAccounts}${zone}${resourceToken}', 24)
var keyVaultName = take('${abbrs.keyVaultVaults}${zone}-${resourceToken}', 24)
var deploymentContainerName = 'app-package-${resourceToken}'
var stagingContainerName = 'sync-staging'
// One record per batch run (run history); the app deletes records older than runRetentionDays.
var runHistoryContainerName = 'sync-runs'
// Refused order events with their validation reason (the order trigger's dead-letter destination).
var orderDeadLetterContainerName = 'order-deadletters'
var orderQueueName = 'order-events'

// The MSSQL Durable backend is not supported on Flex Consumption.
var effectiveHostingPlan = durableBackend == 'MSSQL' ? 'ElasticPremium' : hostingPlan

var peerRegionList = filter(map(split(peerRegions, ','), r => toLower(trim(r))), r => !empty(r))
var sqlRegions = union([zone], peerRegionList)
var publisherIds = filter(map(split(orderPublisherPrincipalIds, ','), p => trim(p)), p => !empty(p))

resource rg 'Microsoft.Resources/resourceGroups@2021-04-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

// ---------------------------------------------------------------------------------------------
// Identity and monitoring
// ---------------------------------------------------------------------------------------------

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}${zone}-${resourceToken}'
    location: location
    tags: tags
  }
}

module logAnalytics 'app/logAnalytics.bicep' = {
  name: 'logAnalytics'
  scope: rg
  params: {
    name: '${abbrs.operationalInsightsWorkspaces}${zone}-${resourceToken}'
    location: location
    tags: tags
    retentionInDays: logRetentionDays
  }
}

module appInsights 'app/appInsights.bicep' = {
  name: 'appInsights'
  scope: rg
  params: {
    name: '${abbrs.insightsComponents}${zone}-${resourceToken}'
    location: location
    tags: tags
    workspaceId: logAnalytics.outputs.id
  }
}

// ---------------------------------------------------------------------------------------------
// Data services of the zone
// ---------------------------------------------------------------------------------------------

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: storageAccountName
    location: location
    tags: tags
    containerNames: [
      deploymentContainerName
      stagingContainerName
      orderDeadLetterContainerName
      runHistoryContainerName
    ]
    stagingContainerName: stagingContainerName
    stagingRetentionDays: stagingRetentionDays
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
  }
}

module serviceBus 'app/serviceBus.bicep' = {
  name: 'serviceBus'
  scope: rg
  params: {
    name: '${abbrs.serviceBusNamespaces}${zone}-${resourceToken}'
    location: location
    tags: tags
    messagingUnits: max(serviceBusMessagingUnits, serviceBusPartitions)
    partitions: serviceBusPartitions
    queueName: orderQueueName
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
  }
}

module keyVault 'app/keyVault.bicep' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: keyVaultName
    location: location
    tags: tags
    purgeProtection: keyVaultPurgeProtection
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
    zone: zone
    identityClientId: identity.outputs.clientId
    sqlServerFqdn: sqlServerFqdn
    sqlDatabaseName: sqlDatabaseName
    durableSqlDatabaseName: durableBackend == 'MSSQL' ? durableSqlDatabaseName : ''
  }
}

module dts 'app/dts.bicep' = if (durableBackend == 'DurableTaskScheduler') {
  name: 'durableTaskScheduler'
  scope: rg
  params: {
    name: '${abbrs.durableTaskSchedulers}${zone}-${resourceToken}'
    location: location
    tags: tags
    taskHubName: taskHubName
    skuName: durableTaskSchedulerSku
    identityPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    identityPrincipalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    orderQueueName: serviceBus.outputs.queueName
    serviceBusTriggerOwnerRole: serviceBusTriggerOwnerRole
    keyVaultName: keyVault.outputs.name
    appInsightsName: appInsights.outputs.name
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    orderPublisherPrincipalIds: publisherIds
  }
}

// ---------------------------------------------------------------------------------------------
// Network (optional)
// ---------------------------------------------------------------------------------------------

module vnet 'app/vnet.bicep' = if (vnetEnabled) {
  name: 'vnet'
  scope: rg
  params: {
    name: '${abbrs.networkVirtualNetworks}${zone}-${resourceToken}'
    location: location
    tags: tags
    appSubnetDelegation: effectiveHostingPlan == 'FlexConsumption' ? 'Microsoft.App/environments' : 'Microsoft.Web/serverFarms'
  }
}

// Deploy-time values only (a module loop must know its items when the deployment starts); the
// target resource is looked up by kind inside the loop body. DNS zone names follow the cloud:
// environment() gives core.windows.net or core.chinacloudapi.cn, vault.azure.net or vault.azure.cn.
var privateLinks = [
  {
    key: 'blob'
    target: 'storage'
    groupId: 'blob'
    dnsZone: 'privatelink.blob.${environment().suffixes.storage}'
  }
  {
    key: 'queue'
    target: 'storage'
    groupId: 'queue'
    dnsZone: 'privatelink.queue.${environment().suffixes.storage}'
  }
  {
    key: 'table'
    target: 'storage'
    groupId: 'table'
    dnsZone: 'privatelink.table.${environment().suffixes.storage}'
  }
  {
    key: 'servicebus'
    target: 'serviceBus'
    groupId: 'namespace'
    // core.windows.net -> privatelink.servicebus.windows.net (same pattern in the other clouds)
    dnsZone: replace(environment().suffixes.storage, 'core.', 'privatelink.servicebus.')
  }
  {
    key: 'vault'
    target: 'keyVault'
    groupId: 'vault'
    // .vault.azure.net -> privatelink.vaultcore.azure.net
    dnsZone: replace(environment().suffixes.keyvaultDns, '.vault.', 'privatelink.vaultcore.')
  }
]

module privateEndpoints 'app/privateEndpoint.bicep' = [
  for link in privateLinks: if (vnetEnabled) {
    name: 'pep-${link.key}'
    scope: rg
    params: {
      name: '${abbrs.networkPrivateEndpoints}${link.key}-${zone}-${resourceToken}'
      location: location
      tags: tags
      subnetId: vnetEnabled ? vnet.outputs.privateEndpointSubnetId : ''
      virtualNetworkId: vnetEnabled ? vnet.outputs.id : ''
      privateLinkServiceId: link.target == 'storage' ? storage.outputs.id : (link.target == 'serviceBus' ? serviceBus.outputs.id : keyVault.outputs.id)
      groupId: link.groupId
      privateDnsZoneName: link.dnsZone
    }
  }
]

// ---------------------------------------------------------------------------------------------
// Compute
// ---------------------------------------------------------------------------------------------

module plan 'app/hostingPlan.bicep' = {
  name: 'hostingPlan'
  scope: rg
  params: {
    name: '${abbrs.webServerFarms}${zone}-${resourceToken}'
    location: location
    tags: tags
    hostingPlan: effectiveHostingPlan
    elasticPremiumSku: elasticPremiumSku
    maximumInstanceCount: maximumInstanceCount
  }
}

module functionApp 'app/functionApp.bicep' = {
  name: 'functionApp'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: tags
    hostingPlan: effectiveHostingPlan
    appServicePlanId: plan.outputs.id
    nodeVersion: nodeVersion
    alwaysReadyInstances: alwaysReadyInstances
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    orderTriggerFunctionName: orderTriggerFunctionName
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    stagingContainerName: stagingContainerName
    orderDeadLetterContainerName: orderDeadLetterContainerName
    runHistoryContainerName: runHistoryContainerName
    runRetentionDays: runRetentionDays
    appInsightsName: appInsights.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    orderQueueName: serviceBus.outputs.queueName
    keyVaultName: keyVault.outputs.name
    sqlRegions: sqlRegions
    zone: zone
    zoneRole: zoneRole
    topologyPath: topologyPath
    stagingRetentionDays: stagingRetentionDays
    durableBackend: durableBackend
    taskHubName: taskHubName
    durableTaskSchedulerEndpoint: durableBackend == 'DurableTaskScheduler' ? dts.outputs.endpoint : ''
    virtualNetworkSubnetId: vnetEnabled ? vnet.outputs.appSubnetId : ''
  }
  // Key Vault references and identity-based connections resolve only once the roles exist.
  dependsOn: [
    rbac
  ]
}

// ---------------------------------------------------------------------------------------------
// Outputs: azd stores them in .azure/<env>/.env; azure.yaml hooks and docs/deploy.md use them.
// ---------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = functionApp.outputs.uri
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_MANAGED_IDENTITY_NAME string = identity.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.uri
output SERVICEBUS_NAMESPACE_FQDN string = serviceBus.outputs.fqdn
output ORDER_EVENTS_QUEUE string = serviceBus.outputs.queueName
output STAGING_BLOB_ACCOUNT_URL string = storage.outputs.blobEndpoint
output APPLICATIONINSIGHTS_NAME string = appInsights.outputs.name
output REGION_SYNC_ZONE string = zone
output REGION_SYNC_ZONE_ROLE string = zoneRole
output SQL_SECRET_NAMES string = join(map(sqlRegions, r => 'sql-${r}'), ',')
output REQUIRED_SECRET_NAMES string = join(concat(map(sqlRegions, r => 'sql-${r}'), ['pseudonym-key']), ',')
output DURABLE_BACKEND string = durableBackend
output EFFECTIVE_HOSTING_PLAN string = effectiveHostingPlan

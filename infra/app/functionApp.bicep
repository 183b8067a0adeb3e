// The Function App of one data-residency zone and every app setting it runs with.
//
// All connections are identity-based (the user-assigned identity of identity.bicep); secrets the
// app needs (SQL connection strings, the pseudonymization key) are Key Vault references. The
// setting names are the contract with config/ (docs/deploy.md, "App settings"); the infra tests
// check that every name config/ declares is set here.
param name string
param location string
param tags object = {}
@description('azd service name; azure.yaml deploys the code of service `api` to the resource carrying this tag.')
param serviceName string = 'api'
@allowed([
  'FlexConsumption'
  'ElasticPremium'
])
param hostingPlan string
param appServicePlanId string
param nodeVersion string
param alwaysReadyInstances int
param maximumInstanceCount int
param instanceMemoryMB int
param orderTriggerFunctionName string
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param stagingContainerName string
@description('Blob container of refused order events (dead letters with their reason).')
param orderDeadLetterContainerName string = 'order-deadletters'
@description('Blob container of the run history (one record per batch run).')
param runHistoryContainerName string = 'sync-runs'
param runRetentionDays int = 45
param appInsightsName string
param serviceBusNamespaceName string
param orderQueueName string
param keyVaultName string
@description('Region ids whose SQL connection strings the app gets (sql-<region> secrets).')
param sqlRegions array
param zone string
param zoneRole string
@description('Topology document inside the deployed package, relative to the app root.')
param topologyPath string
param stagingRetentionDays int = 7
@allowed([
  'AzureStorage'
  'DurableTaskScheduler'
  'MSSQL'
])
param durableBackend string
param taskHubName string
param durableTaskSchedulerEndpoint string = ''
param virtualNetworkSubnetId string = ''

var isFlex = hostingPlan == 'FlexConsumption'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' existing = {
  name: serviceBusNamespaceName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// vaultUri ends with '/'. No secret version: the platform follows the latest version (rotation).
var secretUriBase = '${vault.properties.vaultUri}secrets/'

// Host storage (AzureWebJobsStorage) and the Durable Azure Storage backend, by identity. The
// service URIs, not __accountName, because only they are right in every cloud
// (core.chinacloudapi.cn in Azure China).
var hostStorageSettings = {
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
}

// The Service Bus trigger's `connection: 'ServiceBusConnection'`, by identity. The app's own
// ServiceBusClient (dead-letter inspection and replay) reads the same namespace setting.
var serviceBusSettings = {
  ServiceBusConnection__fullyQualifiedNamespace: split(split(serviceBus.properties.serviceBusEndpoint, '/')[2], ':')[0]
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: identityClientId
  ORDER_EVENTS_QUEUE: orderQueueName
}

// Names from config/settings.ts (SETTING), which is the only reader of the environment.
var appSettingsBase = {
  // DefaultAzureCredential in app code (blob staging, Service Bus client, SQL) picks this identity.
  AZURE_CLIENT_ID: identityClientId
  // Entra ID authority of this cloud (login.chinacloudapi.cn in Azure China).
  AZURE_AUTHORITY_HOST: environment().authentication.loginEndpoint
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  REGION_SYNC_ZONE: zone
  REGION_SYNC_ZONE_ROLE: zoneRole
  REGION_SYNC_TOPOLOGY_PATH: topologyPath
  REGION_SYNC_STAGING_ACCOUNT_URL: storage.properties.primaryEndpoints.blob
  REGION_SYNC_STAGING_CONTAINER: stagingContainerName
  REGION_SYNC_STAGING_RETENTION_DAYS: string(stagingRetentionDays)
  REGION_SYNC_RUN_HISTORY_CONTAINER: runHistoryContainerName
  REGION_SYNC_RUN_RETENTION_DAYS: string(runRetentionDays)
  REGION_SYNC_PSEUDONYM_KEY: '@Microsoft.KeyVault(SecretUri=${secretUriBase}pseudonym-key)'
  REGION_SYNC_ORDER_RUNNER_CHECK_MS: '30000'
  REGION_SYNC_ORDER_DEADLETTER_CONTAINER: orderDeadLetterContainerName
}

// One setting per region database the app connects to; the topology document names these in
// `store.connectionSetting`. Region ids may contain '-', app setting names may not.
var sqlSettings = toObject(
  sqlRegions,
  region => 'SQL_CONNECTION_${toUpper(replace(region, '-', '_'))}',
  region => '@Microsoft.KeyVault(SecretUri=${secretUriBase}sql-${region})'
)

// host.json-equivalent Durable settings: AzureFunctionsJobHost__<path> overrides host.json.
var durableBackendSettings = {
  AzureStorage: {
    AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'AzureStorage'
    AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionName: 'AzureWebJobsStorage'
  }
  DurableTaskScheduler: {
    AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
    AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
    DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${durableTaskSchedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}'
  }
  MSSQL: {
    AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'mssql'
    AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_SQL_CONNECTION'
    AzureFunctionsJobHost__extensions__durableTask__storageProvider__createDatabaseIfNotExists: 'false'
    DURABLE_SQL_CONNECTION: '@Microsoft.KeyVault(SecretUri=${secretUriBase}durable-sql)'
  }
}
var durableSettings = union(
  {
    AzureFunctionsJobHost__extensions__durableTask__hubName: taskHubName
  },
  durableBackendSettings[durableBackend]
)

// Flex Consumption sets runtime and version in functionAppConfig and rejects these settings;
// Elastic Premium needs them.
var elasticPremiumSettings = isFlex ? {} : {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'node'
  WEBSITE_RUN_FROM_PACKAGE: '1'
}

var allAppSettings = union(
  hostStorageSettings,
  serviceBusSettings,
  appSettingsBase,
  sqlSettings,
  durableSettings,
  elasticPremiumSettings
)

// Flex always-ready instances: the order path is the Service Bus trigger and then Durable
// (entity, orchestration, activities), which Flex scales as the `durable` group.
var alwaysReady = [
  {
    name: 'function:${orderTriggerFunctionName}'
    instanceCount: alwaysReadyInstances
  }
  {
    name: 'durable'
    instanceCount: alwaysReadyInstances
  }
]

var flexConfig = {
  deployment: {
    storage: {
      type: 'blobContainer'
      value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
      authentication: {
        type: 'UserAssignedIdentity'
        userAssignedIdentityResourceId: identityId
      }
    }
  }
  scaleAndConcurrency: {
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    alwaysReady: alwaysReady
  }
  runtime: {
    name: 'node'
    version: nodeVersion
  }
}

var commonSiteConfig = {
  minTlsVersion: '1.2'
  ftpsState: 'Disabled'
  http20Enabled: true
}

var premiumSiteConfig = union(commonSiteConfig, {
  linuxFxVersion: 'Node|${nodeVersion}'
  // Always-ready instances on Elastic Premium: no cold start for the order path.
  minimumElasticInstanceCount: alwaysReadyInstances
  functionAppScaleLimit: maximumInstanceCount
  vnetRouteAllEnabled: !empty(virtualNetworkSubnetId)
})

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: appServicePlanId
    httpsOnly: true
    // Key Vault references resolve with the user-assigned identity, not a system-assigned one.
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    functionAppConfig: isFlex ? flexConfig : null
    siteConfig: isFlex ? commonSiteConfig : premiumSiteConfig
  }
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: allAppSettings
}

// No publishing passwords: azd deploys with an Entra ID token.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

output id string = site.id
output name string = site.name
output uri string = 'https://${site.properties.defaultHostName}'

// Key Vault of the zone: holds the SQL connection strings (one secret per region the zone's app
// connects to: sql-<region>), the Durable MSSQL backend connection (durable-sql) and the
// pseudonymization HMAC key (pseudonym-key). The app reads them through Key Vault references in its app settings.
//
// Only the zone's own database secret is written here, and only when the server is an Azure SQL
// server of the same cloud: its connection authenticates with the app's managed identity and
// holds no password. Cross-border databases (another zone, possibly another cloud) are written by
// the operator with `az keyvault secret set` (docs/deploy.md), so no password ever passes through
// azd's plain-text .env files or deployment history.
param name string
param location string
param tags object = {}
param purgeProtection bool = true
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'
param zone string
param identityClientId string
param sqlServerFqdn string = ''
param sqlDatabaseName string = ''
param durableSqlDatabaseName string = ''

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // ARM rejects false once purge protection is on; null leaves it as it is.
    enablePurgeProtection: purgeProtection ? true : null
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: publicNetworkAccess == 'Disabled' ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// Node app (mssql 12 / tedious): mssql maps `Authentication=Active Directory Integrated` plus
// `Client Id` to tedious' azure-active-directory-default, i.e. DefaultAzureCredential with the
// user-assigned identity. The ADO.NET keyword `Active Directory Managed Identity` is NOT understood
// by mssql 12.7: it silently falls back to SQL authentication (test/infra/sqlConnectionString.test.ts).
var appSqlConnection = 'Server=tcp:${sqlServerFqdn},1433;Database=${sqlDatabaseName};Authentication=Active Directory Integrated;Client Id=${identityClientId};Encrypt=true;TrustServerCertificate=false;Connection Timeout=30'

// Durable MSSQL backend (the .NET host, Microsoft.Data.SqlClient): the ADO.NET keywords apply.
var durableSqlConnection = 'Server=tcp:${sqlServerFqdn},1433;Database=${durableSqlDatabaseName};Authentication=Active Directory Managed Identity;User Id=${identityClientId};Encrypt=True;TrustServerCertificate=False'

resource localSqlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(sqlServerFqdn) && !empty(sqlDatabaseName)) {
  parent: vault
  name: 'sql-${zone}'
  properties: {
    value: appSqlConnection
    contentType: 'mssql connection string (Entra ID, managed identity)'
  }
}

resource durableSqlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(sqlServerFqdn) && !empty(durableSqlDatabaseName)) {
  parent: vault
  name: 'durable-sql'
  properties: {
    value: durableSqlConnection
    contentType: 'SqlClient connection string (Entra ID, managed identity)'
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri

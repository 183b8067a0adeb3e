// The one identity of a zone's Function App: every data-plane connection (storage, Service Bus,
// Key Vault, SQL, Application Insights, DTS) authenticates as it, so rbac.bicep is the whole
// list of what the app may touch.
param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId

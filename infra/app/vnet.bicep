// Virtual network of a zone (vnetEnabled): one subnet for private endpoints, one delegated to the
// Function App's outbound integration (Microsoft.App/environments on Flex Consumption,
// Microsoft.Web/serverFarms on Elastic Premium).
param name string
param location string
param tags object = {}
param addressPrefix string = '10.40.0.0/16'
param privateEndpointSubnetPrefix string = '10.40.1.0/24'
param appSubnetPrefix string = '10.40.2.0/24'
@allowed([
  'Microsoft.App/environments'
  'Microsoft.Web/serverFarms'
])
param appSubnetDelegation string

var privateEndpointSubnetName = 'private-endpoints'
var appSubnetName = 'app'

resource vnet 'Microsoft.Network/virtualNetworks@2023-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: privateEndpointSubnetName
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
      {
        name: appSubnetName
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [
            {
              name: 'functions'
              properties: {
                serviceName: appSubnetDelegation
              }
            }
          ]
        }
      }
    ]
  }
}

output id string = vnet.id
output privateEndpointSubnetId string = '${vnet.id}/subnets/${privateEndpointSubnetName}'
output appSubnetId string = '${vnet.id}/subnets/${appSubnetName}'

// The plan of a zone's Function App. Flex Consumption (FC1) by default; Elastic Premium where
// Flex is not offered in the zone's region or cloud, or when the Durable backend is MSSQL.
param name string
param location string
param tags object = {}
@allowed([
  'FlexConsumption'
  'ElasticPremium'
])
param hostingPlan string
param elasticPremiumSku string = 'EP1'
param maximumInstanceCount int = 40

var isFlex = hostingPlan == 'FlexConsumption'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: isFlex ? 'functionapp' : 'elastic'
  sku: isFlex ? {
    name: 'FC1'
    tier: 'FlexConsumption'
  } : {
    name: elasticPremiumSku
    tier: 'ElasticPremium'
  }
  properties: {
    // Linux
    reserved: true
    maximumElasticWorkerCount: isFlex ? null : maximumInstanceCount
  }
}

output id string = plan.id
output name string = plan.name

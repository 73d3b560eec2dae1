// Assigns a list of built-in roles to one principal at the scope of the resource group that holds
// the resource. NOTE: resource group scope is broader than the resource itself; narrow it with an
// `existing` resource of the concrete type where the group holds more than this resource.
param principalId string
param resourceId string
param roleIds array

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in roleIds: {
  name: guid(resourceId, principalId, role)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
  }
}]

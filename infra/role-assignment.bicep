// Assigns a list of built-in roles to one principal on one resource in this resource group.
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

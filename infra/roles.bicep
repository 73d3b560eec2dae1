// Role assignments of the app's managed identity on resources outside its own
// resource group. Prometheus read access (Monitoring Data Reader on the Azure
// Monitor workspace) is assigned by the workspace owner.
targetScope = 'resourceGroup'

param principalId string
param aksClusterName string
param aksResourceGroup string
param amlWorkspaceName string
param amlResourceGroup string
param acrName string
param acrResourceGroup string

module aks 'role-assignment.bicep' = {
  name: 'aks-roles'
  scope: resourceGroup(aksResourceGroup)
  params: {
    principalId: principalId
    resourceId: resourceId(aksResourceGroup, 'Microsoft.ContainerService/managedClusters', aksClusterName)
    // Azure Kubernetes Service Cluster User Role (read the user kubeconfig) and
    // Azure Kubernetes Service RBAC Writer (write Deployments, Services, routes).
    roleIds: ['4abbcc35-e782-43d8-92c5-2d3f1bd2253f', 'a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb']
  }
}

module aml 'role-assignment.bicep' = {
  name: 'aml-roles'
  scope: resourceGroup(amlResourceGroup)
  params: {
    principalId: principalId
    resourceId: resourceId(amlResourceGroup, 'Microsoft.MachineLearningServices/workspaces', amlWorkspaceName)
    // AzureML Data Scientist: read model versions and write their tags.
    roleIds: ['f6c7c914-8db3-469d-8ca1-694a8f32e121']
  }
}

module acr 'role-assignment.bicep' = {
  name: 'acr-roles'
  scope: resourceGroup(acrResourceGroup)
  params: {
    principalId: principalId
    resourceId: resourceId(acrResourceGroup, 'Microsoft.ContainerRegistry/registries', acrName)
    // AcrPush (read manifests, push built images) and Contributor on the
    // registry (schedule ACR build runs).
    roleIds: ['8311e382-0749-4cb8-b61a-304f252e45ec', 'b24988ac-6180-42a0-ab88-20f7382dd24c']
  }
}

// Azure resources of the release pipeline: the function app with its managed
// identity, storage for the Durable task hub, Service Bus for lifecycle
// events, and the role assignments the app needs on AKS, Azure ML, ACR and
// Azure Monitor managed Prometheus. The Event Grid subscriptions that point
// at the app's Event Grid functions are in eventgrid.bicep.
// NOTE: not compiled in CI, because the Bicep CLI cannot be installed offline.

@description('Short name used as a prefix for every resource.')
param name string = 'mlrelease'
param location string = resourceGroup().location

@description('AKS cluster that serves the models (same resource group unless aksResourceGroup is set).')
param aksClusterName string
param aksResourceGroup string = resourceGroup().name

@description('Azure ML workspace that registers the models.')
param amlWorkspaceName string
param amlResourceGroup string = resourceGroup().name

@description('Container registry that holds serving images.')
param acrName string
param acrResourceGroup string = resourceGroup().name

@description('Azure Monitor workspace whose managed Prometheus the canary analysis queries.')
param prometheusQueryEndpoint string

@description('Release policy document, stored as an app setting file path inside the package.')
param releasePolicyFile string = 'config/release-policy.yaml'

@secure()
@description('Secret of the GitHub webhook.')
param githubWebhookSecret string = ''

@secure()
@description('Shared secret of the Azure DevOps service hook.')
param azureDevOpsWebhookSecret string = ''

var storageName = toLower(replace('${name}${uniqueString(resourceGroup().id)}', '-', ''))

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-id'
  location: location
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: take(storageName, 24)
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: { minimumTlsVersion: 'TLS1_2', allowBlobPublicAccess: false, allowSharedKeyAccess: false }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${name}-ai'
  location: location
  kind: 'web'
  properties: { Application_Type: 'web', DisableLocalAuth: true }
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: '${name}-sb-${uniqueString(resourceGroup().id)}'
  location: location
  sku: { name: 'Standard', tier: 'Standard' }
  properties: { disableLocalAuth: true }
}

resource releaseEvents 'Microsoft.ServiceBus/namespaces/topics@2022-10-01-preview' = {
  parent: serviceBus
  name: 'release-events'
}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: '${name}-plan'
  location: location
  sku: { name: 'EP1', tier: 'ElasticPremium' }
  kind: 'elastic'
  properties: { reserved: true }
}

resource site 'Microsoft.Web/sites@2023-12-01' = {
  name: '${name}-func'
  location: location
  kind: 'functionapp,linux'
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identity.id}': {} } }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      linuxFxVersion: 'Node|22'
      minTlsVersion: '1.2'
      appSettings: [
        { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
        { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'node' }
        { name: 'AzureWebJobsStorage__accountName', value: storage.name }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
        { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        { name: 'DURABLE_TASK_HUB', value: 'AksModelRelease' }
        { name: 'RELEASE_POLICY_FILE', value: releasePolicyFile }
        { name: 'GITHUB_WEBHOOK_SECRET', value: githubWebhookSecret }
        { name: 'AZURE_DEVOPS_WEBHOOK_SECRET', value: azureDevOpsWebhookSecret }
        { name: 'AZURE_SUBSCRIPTION_ID', value: subscription().subscriptionId }
        { name: 'AZURE_RESOURCE_MANAGER_ENDPOINT', value: environment().resourceManager }
        { name: 'AML_RESOURCE_GROUP', value: amlResourceGroup }
        { name: 'AML_WORKSPACE', value: amlWorkspaceName }
        { name: 'AKS_RESOURCE_GROUP', value: aksResourceGroup }
        { name: 'AKS_CLUSTER_NAME', value: aksClusterName }
        { name: 'KUBE_AUTH_MODE', value: 'aks-entra' }
        { name: 'ACR_NAME', value: acrName }
        { name: 'ACR_RESOURCE_GROUP', value: acrResourceGroup }
        { name: 'ACR_LOGIN_SERVER', value: '${acrName}${environment().suffixes.acrLoginServer}' }
        { name: 'ACR_ENDPOINT', value: 'https://${acrName}${environment().suffixes.acrLoginServer}' }
        { name: 'PROMETHEUS_URL', value: prometheusQueryEndpoint }
        { name: 'PROMETHEUS_AUTH', value: 'azure' }
        { name: 'RELEASE_EVENTS_TOPIC', value: releaseEvents.name }
        { name: 'ServiceBusConnection__fullyQualifiedNamespace', value: '${serviceBus.name}.servicebus.windows.net' }
        { name: 'ServiceBusConnection__credential', value: 'managedidentity' }
        { name: 'ServiceBusConnection__clientId', value: identity.properties.clientId }
      ]
    }
  }
}

// Built-in role definition ids (stable across tenants).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
}

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in [roles.storageBlobDataOwner, roles.storageQueueDataContributor, roles.storageTableDataContributor]: {
  name: guid(storage.id, identity.id, role)
  scope: storage
  properties: { principalId: identity.properties.principalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role) }
}]

resource serviceBusRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus.id, identity.id, roles.serviceBusDataOwner)
  scope: serviceBus
  properties: { principalId: identity.properties.principalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataOwner) }
}

// Roles on AKS, Azure ML, ACR and the Azure Monitor workspace live in other
// resource groups; roles.bicep assigns them at those scopes.
module crossScopeRoles 'roles.bicep' = {
  name: '${name}-roles'
  params: {
    principalId: identity.properties.principalId
    aksClusterName: aksClusterName
    aksResourceGroup: aksResourceGroup
    amlWorkspaceName: amlWorkspaceName
    amlResourceGroup: amlResourceGroup
    acrName: acrName
    acrResourceGroup: acrResourceGroup
  }
}

output functionAppName string = site.name
output principalId string = identity.properties.principalId

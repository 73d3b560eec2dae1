// Event Grid subscription from one Azure source (an Azure ML workspace or a
// container registry) to one of the app's Event Grid functions. Deploy it once
// per source, into the resource group of that source:
//
//   az deployment group create -g <ml-rg> -f infra/eventgrid.bicep \
//     -p sourceResourceId=<workspace id> topicType=Microsoft.MachineLearningServices.Workspaces \
//        functionAppId=<function app id> functionName=modelRegistryEvents \
//        includedEventTypes='["Microsoft.MachineLearningServices.ModelRegistered"]'
//   az deployment group create -g <acr-rg> -f infra/eventgrid.bicep \
//     -p sourceResourceId=<registry id> topicType=Microsoft.ContainerRegistry.Registries \
//        functionAppId=<function app id> functionName=containerRegistryEvents \
//        includedEventTypes='["Microsoft.ContainerRegistry.ImagePushed"]'
//
// NOTE: not compiled in CI, because the Bicep CLI cannot be installed offline.

@description('Resource id of the event source: an Azure ML workspace or a container registry.')
param sourceResourceId string

@description('System topic type of the source.')
@allowed([
  'Microsoft.MachineLearningServices.Workspaces'
  'Microsoft.ContainerRegistry.Registries'
])
param topicType string

@description('Region of the source; a system topic lives in the region of its source.')
param location string = resourceGroup().location

@description('Resource id of the function app.')
param functionAppId string

@description('Event Grid function that receives the events.')
@allowed([
  'modelRegistryEvents'
  'containerRegistryEvents'
])
param functionName string

@description('Event types delivered to the function; the function acknowledges and logs any other type it receives.')
param includedEventTypes array

@description('Delivery schema. The functions accept both; CloudEvents 1.0 is the current standard.')
@allowed([
  'CloudEventSchemaV1_0'
  'EventGridSchema'
])
param deliverySchema string = 'CloudEventSchemaV1_0'

@description('Name of the system topic. Azure allows one system topic per source, so set this to the existing one when the source already has a system topic, and set createSystemTopic to false.')
param systemTopicName string = '${last(split(sourceResourceId, '/'))}-events'
param createSystemTopic bool = true

@description('Storage account id for undeliverable events; empty disables dead-lettering.')
param deadLetterStorageAccountId string = ''
param deadLetterContainerName string = 'eventgrid-deadletter'

resource newTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = if (createSystemTopic) {
  name: systemTopicName
  location: location
  properties: {
    source: sourceResourceId
    topicType: topicType
  }
}

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: systemTopicName
}

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: topic
  name: 'release-${functionName}'
  dependsOn: [newTopic]
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/${functionName}'
        // One event per delivery: the host fails a whole batch when one invocation fails, and
        // a transient failure of one release start should not redeliver its neighbours.
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: includedEventTypes
    }
    eventDeliverySchema: deliverySchema
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterDestination: empty(deadLetterStorageAccountId) ? null : {
      endpointType: 'StorageBlob'
      properties: {
        resourceId: deadLetterStorageAccountId
        blobContainerName: deadLetterContainerName
      }
    }
  }
}

output subscriptionId string = subscription.id

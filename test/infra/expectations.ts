/**
 * What the app and the infrastructure must agree on, in one place. The Bicep (infra/) and the
 * app's triggers are both checked against these values; change them here, in the Bicep and in
 * the trigger together.
 */

/** The Service Bus queue of the order path (ARCHITECTURE §6) as the order trigger assumes it. */
export const ORDER_QUEUE = {
  name: 'order-events',
  /** Session id `{region}:{orderId}`: one order's versions are received in order, one at a time. */
  requiresSession: true,
  /** Message id `{region}:{orderId}:{version}` is deduplicated by the broker within this window. */
  requiresDuplicateDetection: true,
  duplicateDetectionHistoryTimeWindow: 'PT10M',
  maxDeliveryCount: 10,
  deadLetteringOnMessageExpiration: true,
} as const;

/** How the app registers its order trigger. */
export const ORDER_TRIGGER = {
  /** Function name: Flex Consumption keeps always-ready instances for `function:<name>`. */
  functionName: 'orderEvents',
  /** `connection` of the trigger: the app settings `<connection>__fullyQualifiedNamespace` etc. */
  connection: 'ServiceBusConnection',
  /** The queue name as the trigger may write it: literally, or as an app-setting expression. */
  queueNames: ['order-events', '%ORDER_EVENTS_QUEUE%'],
} as const;

/** azd service that azure.yaml deploys and the Function App's `azd-service-name` tag names. */
export const AZD_SERVICE_NAME = 'api';

/**
 * Settings that config/settings.ts declares but the Function App deliberately does not set in
 * Azure, each with the reason. Every other declared setting must be set by infra/app/functionApp.bicep.
 */
export const NOT_SET_IN_AZURE: Readonly<Record<string, string>> = {
  REGION_SYNC_TOPOLOGY_JSON:
    'alternative to REGION_SYNC_TOPOLOGY_PATH; the infra ships the document in the package',
  REGION_SYNC_DATA_DIR: 'SQLite stores only; Azure regions use mssql stores',
  REGION_SYNC_SQLITE_BUSY_TIMEOUT_MS: 'SQLite stores only; Azure regions use mssql stores',
  REGION_SYNC_STAGING_CONNECTION:
    'connection-string staging is local only; Azure uses REGION_SYNC_STAGING_ACCOUNT_URL with the managed identity',
  AzureWebJobsStorage:
    'identity-based in Azure: AzureWebJobsStorage__blobServiceUri/__queueServiceUri/__tableServiceUri/__credential/__clientId',
  MSSQL_TEST_CONNECTION: 'test-only (adapter conformance suite)',
  REGION_SYNC_STAGING_PURGE_SCHEDULE:
    'optional: the purgeStaging timer runs daily at 04:30 UTC unless an operator moves it',
};

/**
 * App settings that the Flex Consumption plan rejects (runtime and version live in
 * functionAppConfig there); they may only appear among the Elastic Premium settings.
 */
export const FLEX_REJECTED_SETTINGS = [
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_EXTENSION_VERSION',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'AzureWebJobsStorage',
] as const;

/**
 * Built-in Azure role definition ids (identical in every Azure cloud), checked here against the
 * public built-in roles list, keyed by the names infra/app/*.bicep gives them.
 */
export const BUILT_IN_ROLES: Readonly<Record<string, string>> = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0',
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39',
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419',
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
  durableTaskDataContributor: '0ad04412-c4d5-4796-b79c-f76d14c8d402',
};

/** Environment values azd itself provides to parameters and hooks. */
export const AZD_PROVIDED_VARS = [
  'AZURE_ENV_NAME',
  'AZURE_LOCATION',
  'AZURE_SUBSCRIPTION_ID',
  'AZURE_PRINCIPAL_ID',
  'AZURE_PRINCIPAL_TYPE',
] as const;

import { z } from 'zod';

import { trafficProviders } from './policy';

/** Raised at start-up when settings are missing or invalid; the message lists every bad setting. */
export class SettingsError extends Error {
  override name = 'SettingsError';
}

const url = z.url({ message: 'expected an absolute URL' });
const optionalText = z.string().min(1).optional();
const positiveInt = z.coerce.number().int().positive();
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

interface SettingSpec {
  schema: z.ZodType;
  /** Expected form, shown when the setting is wrong. */
  form: string;
  example: string;
  description: string;
}

/**
 * Every app setting the code reads, in one table. Endpoints have no defaults,
 * because a default would aim somewhere other than what the operator chose.
 */
export const settingSpecs = {
  RELEASE_POLICY_FILE: { schema: z.string().min(1), form: 'path of a YAML or JSON policy document', example: 'config/release-policy.local.yaml', description: 'Release policy document.' },
  GITHUB_WEBHOOK_SECRET: { schema: optionalText, form: 'the secret set on the GitHub webhook', example: 'a-long-random-string', description: 'HMAC secret of the GitHub webhook; the route rejects every delivery while it is unset.' },
  AZURE_DEVOPS_WEBHOOK_SECRET: { schema: optionalText, form: 'the value of the shared-secret header set on the service hook', example: 'a-long-random-string', description: 'Shared secret of the Azure DevOps service hook.' },
  AZURE_DEVOPS_WEBHOOK_SECRET_HEADER: { schema: z.string().min(1).default('x-webhook-secret'), form: 'an HTTP header name', example: 'x-webhook-secret', description: 'Header that carries the Azure DevOps shared secret.' },
  AZURE_DEVOPS_BASIC_AUTH_USER: { schema: optionalText, form: 'a user name', example: 'release-hook', description: 'Basic-auth user name of the Azure DevOps service hook.' },
  AZURE_DEVOPS_BASIC_AUTH_PASSWORD: { schema: optionalText, form: 'a password', example: 'a-long-random-string', description: 'Basic-auth password of the Azure DevOps service hook.' },
  WEBHOOK_MAX_BODY_BYTES: { schema: positiveInt.default(1048576), form: 'a positive integer number of bytes', example: '1048576', description: 'Largest request body the HTTP routes accept; larger bodies get 413.' },
  AZURE_SUBSCRIPTION_ID: { schema: z.string().uuid({ message: 'expected a subscription GUID' }), form: 'a subscription GUID', example: '00000000-0000-0000-0000-000000000000', description: 'Subscription of the AKS cluster, Azure ML workspace and registry.' },
  AZURE_RESOURCE_MANAGER_ENDPOINT: { schema: url, form: 'https URL of Azure Resource Manager', example: 'https://management.azure.com', description: 'ARM endpoint for the management SDK clients.' },
  AML_RESOURCE_GROUP: { schema: z.string().min(1), form: 'a resource group name', example: 'ml-rg', description: 'Resource group of the Azure ML workspace.' },
  AML_WORKSPACE: { schema: z.string().min(1), form: 'an Azure ML workspace name', example: 'ml-prod', description: 'Azure ML workspace that holds the models.' },
  AKS_RESOURCE_GROUP: { schema: z.string().min(1), form: 'a resource group name', example: 'aks-rg', description: 'Resource group of the AKS cluster.' },
  AKS_CLUSTER_NAME: { schema: z.string().min(1), form: 'an AKS cluster name', example: 'aks-inference', description: 'AKS cluster that serves the models.' },
  KUBE_AUTH_MODE: { schema: z.enum(['aks-entra', 'kubeconfig']).default('aks-entra'), form: '"aks-entra" or "kubeconfig"', example: 'kubeconfig', description: 'aks-entra reaches AKS with the managed identity; kubeconfig reads KUBECONFIG_PATH.' },
  KUBECONFIG_PATH: { schema: optionalText, form: 'path of a kubeconfig file', example: '.sim/kubeconfig', description: 'Kubeconfig used when KUBE_AUTH_MODE is kubeconfig.' },
  ACR_NAME: { schema: z.string().min(1), form: 'a container registry name', example: 'contosocr', description: 'Registry that receives built images.' },
  ACR_RESOURCE_GROUP: { schema: z.string().min(1), form: 'a resource group name', example: 'acr-rg', description: 'Resource group of the registry.' },
  ACR_LOGIN_SERVER: { schema: z.string().min(1), form: 'registry host name as used in image references', example: 'contosocr.azurecr.io', description: 'Login server that image references name.' },
  ACR_ENDPOINT: { schema: url, form: 'https URL of the registry data plane', example: 'https://contosocr.azurecr.io', description: 'Data-plane URL for @azure/container-registry.' },
  ACR_AUDIENCE: { schema: z.string().min(1).default('https://containerregistry.azure.net'), form: 'an Entra ID audience', example: 'https://containerregistry.azure.net', description: 'Token audience of the registry data plane.' },
  PROMETHEUS_URL: { schema: url, form: 'URL of a Prometheus HTTP API', example: 'https://contoso-amw.switzerlandnorth.prometheus.monitor.azure.com', description: 'Prometheus that the canary analysis queries.' },
  PROMETHEUS_AUTH: { schema: z.enum(['azure', 'none']).default('azure'), form: '"azure" or "none"', example: 'none', description: 'azure sends a managed-identity token for Azure Monitor managed Prometheus.' },
  DEFAULT_TRAFFIC_PROVIDER: { schema: z.enum(trafficProviders).default('gateway-api'), form: trafficProviders.join(' or '), example: 'gateway-api', description: 'Traffic provider for endpoints whose policy names none.' },
  RELEASE_EVENTS_TOPIC: { schema: z.string().min(1).default('release-events'), form: 'a Service Bus topic name', example: 'release-events', description: 'Topic that receives release lifecycle events.' },
  ServiceBusConnection: { schema: z.string().min(1), form: 'a Service Bus connection string', example: 'Endpoint=sb://127.0.0.1;SharedAccessKeyName=local;SharedAccessKey=local;UseDevelopmentEmulator=true', description: 'Service Bus connection of the triggers and output bindings.' },
  IMDS_ENDPOINT: { schema: url.optional(), form: 'URL of the Instance Metadata Service', example: 'http://127.0.0.1:7401', description: 'IMDS base URL for scheduled events; read by the node agent only.' },
  ENTRA_TENANT_ID: { schema: optionalText, form: 'a tenant GUID', example: '00000000-0000-0000-0000-000000000000', description: 'Tenant whose bearer tokens identify people on the release API.' },
  ENTRA_ISSUER: { schema: optionalText, form: 'token issuer URL', example: 'https://login.microsoftonline.com/<tenant>/v2.0', description: 'Expected iss claim of bearer tokens.' },
  ENTRA_AUDIENCE: { schema: optionalText, form: 'application id URI or client id', example: 'api://aks-model-release', description: 'Expected aud claim of bearer tokens.' },
  ENTRA_JWKS_URI: { schema: url.optional(), form: 'URL of the tenant signing keys', example: 'https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys', description: 'Published signing keys used to verify bearer tokens.' },
  WEBSITE_AUTH_ENABLED: { schema: z.string().regex(/^(true|false)$/i).transform((v) => v.toLowerCase() === 'true').default(false), form: '"true" or "false" (App Service sets it)', example: 'false', description: 'True when App Service Authentication runs in front of the app; only then does the release API trust the X-MS-CLIENT-PRINCIPAL headers.' },
  LOG_LEVEL: { schema: z.enum(['debug', 'info', 'warn', 'error']).default('info'), form: 'debug, info, warn or error', example: 'info', description: 'Lowest level written to the log.' },
  DRY_RUN: { schema: bool.default(false), form: '"true" or "false"', example: 'false', description: 'Log cluster and Azure changes instead of making them.' },
} satisfies Record<string, SettingSpec>;

type Specs = typeof settingSpecs;
/** Parsed, typed app settings. */
export type Settings = { [K in keyof Specs]: z.output<Specs[K]['schema']> };

/**
 * Parses every setting from the environment at once. Throws SettingsError that
 * lists each missing or invalid setting with its expected form and an example,
 * so that one restart fixes them all.
 */
export function parseSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];

  for (const [name, spec] of Object.entries(settingSpecs) as [string, SettingSpec][]) {
    const raw = env[name];
    const input = raw === undefined || raw === '' ? undefined : raw;
    const result = spec.schema.safeParse(input);
    if (result.success) {
      values[name] = result.data;
      continue;
    }
    const what = input === undefined ? 'is missing' : 'is invalid';
    problems.push(`  - ${name} ${what}: expected ${spec.form}, for example ${spec.example}`);
  }

  if (env.KUBE_AUTH_MODE === 'kubeconfig' && !env.KUBECONFIG_PATH) {
    problems.push('  - KUBECONFIG_PATH is missing: expected a kubeconfig path because KUBE_AUTH_MODE is kubeconfig, for example .sim/kubeconfig');
  }
  const basicUser = Boolean(env.AZURE_DEVOPS_BASIC_AUTH_USER);
  const basicPassword = Boolean(env.AZURE_DEVOPS_BASIC_AUTH_PASSWORD);
  if (basicUser !== basicPassword) {
    problems.push('  - AZURE_DEVOPS_BASIC_AUTH_USER and AZURE_DEVOPS_BASIC_AUTH_PASSWORD must be set together or not at all');
  }

  const entra = ['ENTRA_ISSUER', 'ENTRA_AUDIENCE', 'ENTRA_JWKS_URI'].filter((name) => Boolean(env[name]));
  if (entra.length > 0 && entra.length < 3) {
    problems.push(`  - ENTRA_ISSUER, ENTRA_AUDIENCE and ENTRA_JWKS_URI must be set together or not at all (set: ${entra.join(', ')})`);
  }

  if (problems.length > 0) {
    throw new SettingsError(`${problems.length} app setting(s) missing or invalid:\n${problems.join('\n')}`);
  }
  return values as Settings;
}

let cached: Settings | undefined;

/** Returns the settings parsed at start-up; parses them on first use. */
export function getSettings(): Settings {
  cached ??= parseSettings();
  return cached;
}

/** Drops the cached settings; tests call it after changing the environment. */
export function resetSettingsForTests(): void {
  cached = undefined;
}

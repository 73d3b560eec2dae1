/**
 * The Event Grid webhook endpoint of the Functions host:
 * POST /runtime/webhooks/eventgrid?functionName=NAME. Answers the validation
 * handshakes of both schemas and runs one invocation per event; any failed
 * invocation makes the whole delivery a 500, so Event Grid resends the batch.
 */
import type { FunctionHost } from './host';
import type { KeyStore } from './keys';
import { header, presentedKey, type WebRequest, type WebResponse } from './web';

export async function handleEventGrid(host: FunctionHost, keys: KeyStore, request: WebRequest): Promise<WebResponse> {
  if (request.method === 'OPTIONS') {
    // CloudEvents abuse-protection handshake: echo the origin to allow delivery.
    const origin = header(request, 'webhook-request-origin');
    if (!origin) return { status: 400, body: { message: 'The OPTIONS handshake needs a WebHook-Request-Origin header.' } };
    return { status: 200, headers: { 'WebHook-Allowed-Origin': origin, 'WebHook-Allowed-Rate': '*' } };
  }
  if (request.method !== 'POST') return { status: 405 };
  if (!keys.allows('system', presentedKey(request), { systemKeyName: 'eventgrid_extension' })) return { status: 401 };

  const functionName = request.url.searchParams.get('functionName');
  if (!functionName) return { status: 400, body: { message: 'The functionName query parameter is missing.' } };
  const fn = host.findFunction(functionName, 'eventGridTrigger');
  if (!fn) return { status: 404, body: { message: `No Event Grid trigger function named '${functionName}' is registered.` } };

  let payload: unknown;
  try {
    payload = JSON.parse(request.body.toString('utf8'));
  } catch {
    return { status: 400, body: { message: 'The request body is not valid JSON.' } };
  }
  const events = Array.isArray(payload) ? payload : [payload];
  const eventType = header(request, 'aeg-event-type') ?? 'Notification';

  if (eventType === 'SubscriptionValidation') {
    const code = (events[0] as { data?: { validationCode?: unknown } } | undefined)?.data?.validationCode;
    if (typeof code !== 'string') return { status: 400, body: { message: 'The SubscriptionValidation event has no data.validationCode.' } };
    return { status: 200, body: { validationResponse: code } };
  }
  if (eventType === 'Unsubscribe') return { status: 202 };
  if (eventType !== 'Notification') return { status: 400, body: { message: `Unknown aeg-event-type '${eventType}'; expected Notification, SubscriptionValidation or Unsubscribe.` } };

  let failed = 0;
  for (const event of events) {
    const result = await host.run(fn, { trigger: { json: JSON.stringify(event) } });
    if (!result.ok) failed += 1;
  }
  return failed > 0 ? { status: 500, body: { message: `${failed} of ${events.length} event invocations failed; the whole delivery must be retried.` } } : { status: 202 };
}

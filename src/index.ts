/**
 * Entry point of the function app (package.json `main`). Importing a module
 * registers its functions with @azure/functions; the Functions worker and
 * devhost both load this file once at start-up.
 */
import { app } from '@azure/functions';

import { startupCheck } from './startup';

// Fail at start-up, not on the first event, when settings or the policy are invalid.
startupCheck();

app.setup({ enableHttpStream: false });

import './functions/eventGrid';
import './functions/webhooks';
import './functions/releaseApi';
import '../orchestrations/index';
import '../activities/index';

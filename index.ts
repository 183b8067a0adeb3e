// The composition root (package.json "main"): validates config once, builds the ports once, and
// registers every function over them; the ports are closed when the host stops the app.
import { app } from '@azure/functions';
import { registerActivities } from './activities/index.js';
import { createRuntime } from './activities/runtime.js';
import { loadConfig } from './config/loadConfig.js';
import './orchestrators/index.js';
import { registerTriggers } from './triggers/index.js';

const runtime = createRuntime(loadConfig(process.env));
registerActivities(runtime);
registerTriggers(runtime);
app.hook.appTerminate(async () => {
  await runtime.close();
});

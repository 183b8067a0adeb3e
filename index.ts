// The composition root (package.json "main"): validates config once, builds the ports once, and
// registers every function over them; the ports are closed when the host stops the app.
import { app } from '@azure/functions';
import { registerActivities } from './activities/index.js';
import { createRuntime } from './activities/runtime.js';
import { withLocalDefaults } from './config/localDefaults.js';
import { loadConfig } from './config/loadConfig.js';
import './orchestrators/index.js';
import { registerTriggers } from './triggers/index.js';

const local = withLocalDefaults(process.env);
for (const note of local.notes) console.log(`region-sync: ${note}`);
const runtime = createRuntime(loadConfig(local.env));
registerActivities(runtime);
registerTriggers(runtime);
app.hook.appTerminate(async () => {
  await runtime.close();
});

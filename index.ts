// The composition root (package.json "main"): validates config once, builds the ports once, and
// registers every function over them; the ports are closed when the host stops the app.
import { app } from '@azure/functions';
import { registerActivities } from './activities/index.js';
import { registerOrderActivities } from './activities/orderIndex.js';
import { createOrderRuntime } from './activities/orderRuntime.js';
import { createRuntime } from './activities/runtime.js';
import { withLocalDefaults } from './config/localDefaults.js';
import { loadConfig } from './config/loadConfig.js';
import { loadOrderSettings } from './config/orderSettings.js';
import { registerEntities } from './entities/index.js';
import './orchestrators/index.js';
import './orchestrators/orderIndex.js';
import { registerTriggers } from './triggers/index.js';
import { registerOrderTriggers } from './triggers/orderIndex.js';

const local = withLocalDefaults(process.env);
for (const note of local.notes) console.log(`region-sync: ${note}`);
const config = loadConfig(local.env);
const runtime = createRuntime(config);
registerActivities(runtime);
registerTriggers(runtime);
// Near-real-time order sync shares the region stores and adds its own ports.
const orderSettings = loadOrderSettings(local.env);
const orders = createOrderRuntime(config, orderSettings, runtime);
registerOrderActivities(orders);
registerEntities({ gapWaitMs: orderSettings.gapWaitMs });
registerOrderTriggers(orders);
app.hook.appTerminate(async () => {
  await orders.close();
  await runtime.close();
});

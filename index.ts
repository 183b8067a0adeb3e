// The composition root (package.json "main"): validates config once, builds the ports once, and
// registers every function over them; the ports are closed when the host stops the app.
import { app } from '@azure/functions';
import { registerActivities } from './activities/index.js';
import { registerOrderActivities } from './activities/orderIndex.js';
import { createOrderRuntime } from './activities/orderRuntime.js';
import { createRuntime } from './activities/runtime.js';
import { createTelemetry } from './adapters/telemetry.js';
import { withLocalDefaults } from './config/localDefaults.js';
import { loadConfig } from './config/loadConfig.js';
import { loadOrderSettings } from './config/orderSettings.js';
import { loadTelemetrySettings } from './config/telemetrySettings.js';
import { registerEntities } from './entities/index.js';
import './orchestrators/index.js';
import './orchestrators/orderIndex.js';
import { setOrchestrationLogBase } from './orchestrators/replaySafeLog.js';
import { registerDashboard, registerTriggers } from './triggers/index.js';
import { registerOrderTriggers } from './triggers/orderIndex.js';

const local = withLocalDefaults(process.env);
for (const note of local.notes) console.log(`region-sync: ${note}`);
const config = loadConfig(local.env);
const runtime = createRuntime(config);
// Structured logs through each invocation's context; custom metrics exported to Application
// Insights when it is configured, else written as log lines (docs/deploy.md §8).
const telemetry = createTelemetry(loadTelemetrySettings(local.env));
setOrchestrationLogBase({ zone: telemetry.zone });
registerActivities(runtime, telemetry);
registerTriggers(runtime, telemetry);
// Near-real-time order sync shares the region stores and adds its own ports.
const orderSettings = loadOrderSettings(local.env);
const orders = createOrderRuntime(config, orderSettings, runtime);
registerOrderActivities(orders, telemetry);
registerEntities({ runnerCheckAfterMs: orderSettings.runnerCheckAfterMs });
registerOrderTriggers(orders, telemetry);
registerDashboard(runtime, orders);
app.hook.appTerminate(async () => {
  await orders.close();
  await runtime.close();
  await telemetry.close();
});

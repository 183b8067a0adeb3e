import { app } from '@azure/functions';
import * as df from 'durable-functions';
import type { OrderRuntime } from '../activities/orderRuntime.js';
import type { SyncRuntime } from '../activities/runtime.js';
import type { Telemetry } from '../adapters/telemetry.js';
import { silentTelemetry } from '../adapters/telemetry.js';
import { createDashboardOrders, createDashboardPage, createDashboardTopology } from './dashboardHttp.js';
import { createHealth } from './health';
import { createGetRun, createListRuns } from './runHistoryHttp.js';
import { createStartSync, createSyncStatus } from './syncHttp.js';
import { createScheduledSync, createStagingPurge } from './syncTimers.js';

export function registerTriggers(runtime: SyncRuntime, telemetry: Telemetry = silentTelemetry): void {
  app.http('health', {
    methods: ['GET'],
    authLevel: 'anonymous',
    route: 'health',
    handler: createHealth(runtime),
  });
  df.app.client.http('startSync', {
    methods: ['POST'],
    authLevel: 'function',
    route: 'sync/{flow}',
    handler: createStartSync(runtime, telemetry),
  });
  df.app.client.http('syncStatus', {
    methods: ['GET'],
    authLevel: 'function',
    route: 'sync/{flow}/status',
    handler: createSyncStatus(runtime),
  });
  df.app.client.http('syncRuns', {
    methods: ['GET'],
    authLevel: 'function',
    route: 'sync/{flow}/runs',
    handler: createListRuns(runtime),
  });
  df.app.client.http('syncRun', {
    methods: ['GET'],
    authLevel: 'function',
    route: 'sync/{flow}/runs/{runId}',
    handler: createGetRun(runtime),
  });
  // The schedules come from the validated topology, read once at start-up: to the host each is a
  // plain NCRONTAB string, as if written in the registration.
  for (const flow of runtime.topology.flows) {
    const fn = flow.name.replace(/[^A-Za-z0-9]/g, '_');
    df.app.client.timer(`syncNightly_${fn}`, {
      schedule: flow.schedule.incremental,
      handler: createScheduledSync(flow.name, 'incremental', telemetry),
    });
    df.app.client.timer(`syncMonthly_${fn}`, {
      schedule: flow.schedule.fullCompare,
      handler: createScheduledSync(flow.name, 'full', telemetry),
    });
  }
  // Staged pages are transient: a daily purge keeps the container to the retention's worth of runs.
  app.timer('purgeStaging', {
    schedule: runtime.stagingPurgeSchedule,
    runOnStartup: false,
    handler: createStagingPurge(runtime, telemetry),
  });
}

/** The operations dashboard (GET /api/dashboard) and its JSON reads. */
export function registerDashboard(runtime: SyncRuntime, orders: OrderRuntime): void {
  app.http('dashboard', {
    methods: ['GET'],
    authLevel: 'function',
    route: 'dashboard',
    handler: createDashboardPage(),
  });
  app.http('dashboardTopology', {
    methods: ['GET'],
    authLevel: 'function',
    route: 'dashboard/data/topology',
    handler: createDashboardTopology(runtime),
  });
  df.app.client.http('dashboardOrders', {
    methods: ['GET'],
    authLevel: 'function',
    route: 'dashboard/data/orders',
    handler: createDashboardOrders(orders),
  });
}

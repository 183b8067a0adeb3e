/**
 * Telemetry as a user of Application Insights sees it: the JSON log lines real activity and
 * trigger invocations write through their context carry the correlation ids, and the metrics are
 * recorded under the contract's names and dimensions (docs/deploy.md §8).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { InvocationContext } from '@azure/functions';
import type * as df from 'durable-functions';
import { batchTelemetry, orderTelemetry, withTelemetry } from '../../activities/activityTelemetry';
import { createApplyPage } from '../../activities/applyPage';
import { createExtractPage } from '../../activities/extractPage';
import type { OrderRuntime } from '../../activities/orderRuntime';
import {
  createRegisterAfterSales,
  createUpsertHubOrder,
  createWriteReceipt,
} from '../../activities/orderSaga';
import type { SyncRuntime } from '../../activities/runtime';
import { createRuntime } from '../../activities/runtime';
import { SqliteOrderSagaStore } from '../../adapters/sqliteOrderSaga';
import type { LogSink } from '../../adapters/telemetry';
import { createTelemetry } from '../../adapters/telemetry';
import { loadConfig } from '../../config/loadConfig';
import { loadTelemetrySettings } from '../../config/telemetrySettings';
import { DEMO_CATALOG, orderHistory } from '../../scripts/orderGenerator';
import type { DeadLetteredOrderEvent, OrderDeadLetters } from '../../sync/orderEvent';
import { orderFlowRules } from '../../sync/orderEvent';
import { createOrderEventsTrigger } from '../../triggers/orderEvents';
import type { SeededRuntime } from '../support/localApp';
import { startSeededRuntime } from '../support/localApp';

type Line = Record<string, unknown> & { level: string };

/** An InvocationContext stand-in that records what the function logged. */
function recorder(): LogSink & { lines: Line[] } {
  const lines: Line[] = [];
  const push = (level: string) => (msg: unknown) =>
    lines.push({ level, ...(JSON.parse(String(msg)) as object) });
  return { lines, log: push('info'), warn: push('warn'), error: push('error') };
}

const localTelemetry = () => createTelemetry(loadTelemetrySettings({ REGION_SYNC_ZONE: 'cn' }));

describe('telemetry of batch-sync activities', () => {
  let seeded: SeededRuntime;
  let runtime: SyncRuntime;
  before(async () => {
    seeded = await startSeededRuntime('telemetry-batch-', {
      hubPrices: 10,
      spokePrices: 2,
      promotions: 8,
      ordersPerSpoke: 2,
      base: '2026-01-01T00:00:00.000Z',
    });
    runtime = seeded.runtime;
  });
  after(async () => {
    await seeded?.close();
  });

  it('logs extracted and applied pages with run id, flow, link, table and page, and measures rows moved and lag', async () => {
    const now = new Date('2026-01-01T01:00:00.000Z');
    const telemetry = localTelemetry();
    const extract = withTelemetry(
      'extractPage',
      createExtractPage(runtime),
      batchTelemetry.extractPage,
      telemetry,
      () => now,
    );
    const apply = withTelemetry(
      'applyPage',
      createApplyPage(runtime),
      batchTelemetry.applyPage,
      telemetry,
      () => now,
    );
    const link = { flow: 'promotions', source: 'cn', target: 'latam' };
    const runId = 'promotions-incremental.20260101T010000.000Z';
    const sink = recorder();
    const out = (await extract(
      { link, table: 'promotion', runId, page: 0, after: null, upTo: '999999', pageSize: 100 },
      sink,
    )) as { blob: string; rows: number; nextCursor: unknown };
    await apply(
      {
        link,
        table: 'promotion',
        checkpointTable: 'promotion',
        runId,
        page: 0,
        blob: out.blob,
        nextCursor: out.nextCursor,
      },
      sink,
    );
    const correlation = {
      zone: 'cn',
      flowRunId: runId,
      flow: 'promotions',
      link: 'cn->latam',
      table: 'promotion',
      page: 0,
    };
    const extracted = sink.lines.find((l) => l.event === 'pageExtracted');
    assert.deepEqual(
      { ...extracted, read: undefined },
      {
        level: 'info',
        event: 'pageExtracted',
        ...correlation,
        read: undefined,
        staged: out.rows,
        hasMore: false,
      },
    );
    const applied = sink.lines.find((l) => l.event === 'pageApplied');
    assert.ok(applied, JSON.stringify(sink.lines));
    assert.deepEqual(
      { ...applied, lagSeconds: undefined },
      {
        level: 'info',
        event: 'pageApplied',
        ...correlation,
        inserted: out.rows,
        updated: 0,
        unchanged: 0,
        lostConflicts: 0,
        rowsMoved: out.rows,
        lagSeconds: undefined,
      },
    );
    // Locally the metrics are log lines of the same invocation.
    const metrics = sink.lines.filter((l) => l.event === 'metric');
    assert.deepEqual(
      metrics.map((m) => [m.metric, m.flow, m.link, m.zone]),
      [
        ['regionsync.rows_moved', 'promotions', 'cn->latam', 'cn'],
        ['regionsync.sync_lag_seconds', 'promotions', 'cn->latam', 'cn'],
      ],
    );
    assert.equal(metrics[0]?.value, out.rows);
    // The seeded rows changed at or after the base time, an hour at most before `now`.
    const lag = metrics[1]?.value as number;
    assert.ok(lag >= 0 && lag <= 3600, String(lag));
    assert.equal(applied.lagSeconds, lag);
  });

  it('logs a failed activity with its correlation and rethrows the fault', async () => {
    const telemetry = localTelemetry();
    const failing = withTelemetry(
      'extractPage',
      () => Promise.reject(new Error('source cn unreachable\n  at somewhere')),
      batchTelemetry.extractPage,
      telemetry,
      () => new Date(),
    );
    const sink = recorder();
    const link = { flow: 'pricing', source: 'cn', target: 'sea' };
    await assert.rejects(
      failing(
        { link, table: 'price_list', runId: 'r1', page: 3, after: null, upTo: '1', pageSize: 10 },
        sink,
      ),
      /unreachable/,
    );
    assert.deepEqual(sink.lines, [
      {
        level: 'error',
        event: 'activityFailed',
        zone: 'cn',
        flowRunId: 'r1',
        flow: 'pricing',
        link: 'cn->sea',
        table: 'price_list',
        page: 3,
        activity: 'extractPage',
        error: 'source cn unreachable',
      },
    ]);
  });

  it('sends metrics to the exporter (not the log) when Application Insights is configured', () => {
    const recorded: unknown[][] = [];
    let closed = false;
    const settings = loadTelemetrySettings({
      REGION_SYNC_ZONE: 'sea',
      APPLICATIONINSIGHTS_CONNECTION_STRING:
        'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://example.invalid/',
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING:
        'Authorization=AAD;ClientId=11111111-2222-3333-4444-555555555555',
    });
    assert.deepEqual(settings.appInsights?.auth, {
      kind: 'aad',
      clientId: '11111111-2222-3333-4444-555555555555',
    });
    const telemetry = createTelemetry(settings, () => ({
      metrics: { record: (...a: unknown[]) => void recorded.push(a) },
      close: async () => {
        closed = true;
      },
    }));
    const sink = recorder();
    const t = telemetry.forInvocation(sink);
    t.metrics.record('regionsync.rows_moved', 5, { flow: 'pricing', link: 'cn->sea' });
    assert.deepEqual(recorded, [['regionsync.rows_moved', 5, { flow: 'pricing', link: 'cn->sea' }]]);
    assert.deepEqual(sink.lines, []);
    return telemetry.close().then(() => assert.ok(closed));
  });
});

describe('telemetry of the order path', () => {
  let dir: string;
  const opened: { close(): Promise<void> }[] = [];
  let deps: OrderRuntime;
  const NOW = new Date('2026-03-01T12:00:00.250Z');
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'telemetry-order-'));
    const config = loadConfig(
      { REGION_SYNC_DATA_DIR: dir, REGION_SYNC_PSEUDONYM_KEY: randomBytes(32).toString('base64') },
      { cwd: dir },
    );
    const runtime = createRuntime(config);
    opened.push(runtime);
    const { flow, hub, rules } = orderFlowRules(config.topology);
    const sagas = new Map<string, SqliteOrderSagaStore>();
    for (const r of ['cn', 'sea']) {
      const resolved = config.stores[r] as { file: string };
      const saga = new SqliteOrderSagaStore({ region: r, file: resolved.file });
      await saga.migrate();
      sagas.set(r, saga);
      opened.push(saga);
    }
    await sagas.get('cn')!.upsertProducts(DEMO_CATALOG);
    deps = {
      topology: config.topology,
      pseudonymKey: config.pseudonymKey,
      settings: { runnerCheckAfterMs: 0, deadLetterContainer: 'x' },
      flow,
      hub,
      rules,
      store: (r) => runtime.store(r),
      sagaStore: async (r) => sagas.get(r)!,
      deadLetters: null as unknown as OrderDeadLetters,
      now: () => NOW,
      close: async () => {},
    };
  });
  after(async () => {
    for (const o of opened) await o.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs each saga step with order id, region, version and saga id, and measures enqueued -> applied', async () => {
    const telemetry = localTelemetry();
    const event = orderHistory('sea', 'sea-77', 1, {
      seed: 3,
      start: Date.parse('2026-03-01T11:00:00.000Z'),
    })[0]!;
    const sagaId = 'order-sea-sea-77-v1';
    const sink = recorder();
    const wrap = (name: keyof typeof orderTelemetry, h: (i: never) => Promise<unknown>) =>
      withTelemetry(name, h, orderTelemetry[name], telemetry, () => NOW);
    await wrap('upsertHubOrder', createUpsertHubOrder(deps))({ sagaId, event }, sink);
    await wrap('registerAfterSales', createRegisterAfterSales(deps))({ sagaId, event }, sink);
    await wrap('writeReceipt', createWriteReceipt(deps))(
      {
        sourceRegion: 'sea',
        receipt: {
          orderId: 'sea-77',
          version: 1,
          status: 'applied',
          reason: null,
          hubVersion: 1,
          sagaId,
          at: NOW.toISOString(),
        },
        enqueuedTimeUtc: '2026-03-01T12:00:00.000Z',
      },
      sink,
    );
    const correlation = { zone: 'cn', orderId: 'sea-77', region: 'sea', version: 1, sagaId };
    const steps = sink.lines.filter((l) => l.event === 'sagaStep');
    assert.deepEqual(
      steps.map((l) => [l.step, l.outcome]),
      [
        ['upsertHubOrder', 'applied'],
        ['registerAfterSales', 'registered'],
        ['writeReceipt', 'written'],
      ],
    );
    for (const l of steps)
      assert.deepEqual(
        { ...l, step: 0, outcome: 0, status: 0, latencyMs: 0 },
        { level: 'info', event: 'sagaStep', ...correlation, step: 0, outcome: 0, status: 0, latencyMs: 0 },
      );
    assert.equal(steps[2]?.latencyMs, 250);
    assert.deepEqual(
      sink.lines.filter((l) => l.event === 'metric'),
      [
        {
          level: 'info',
          event: 'metric',
          zone: 'cn',
          metric: 'regionsync.order_latency_ms',
          value: 250,
          region: 'sea',
        },
      ],
    );
  });
});

describe('telemetry of the order trigger', () => {
  const rules = orderFlowRules(
    loadConfig({ REGION_SYNC_PSEUDONYM_KEY: randomBytes(32).toString('base64') }).topology,
  ).rules;
  const dead: DeadLetteredOrderEvent[] = [];
  const deadLetters = {
    put: async (r: DeadLetteredOrderEvent) => void dead.push(r),
  } as unknown as OrderDeadLetters;
  const trigger = createOrderEventsTrigger(
    { rules, deadLetters, now: () => new Date('2026-03-01T00:00:00Z') },
    localTelemetry(),
    'order-events',
  );

  it('logs a received event with message, session, order and version, and hands the enqueued time on', async () => {
    const event = orderHistory('sea', 'sea-9', 1, {
      seed: 1,
      start: Date.parse('2026-03-01T11:00:00.000Z'),
    })[0]!;
    const started: {
      name: string;
      options: { instanceId: string; input: { event: Record<string, unknown> } };
    }[] = [];
    const client = {
      startNew: async (name: string, options: never) => void started.push({ name, options }),
    } as unknown as df.DurableClient;
    const sink = recorder();
    const context = Object.assign(sink, {
      triggerMetadata: {
        messageId: 'sea:sea-9:1',
        sessionId: 'sea:sea-9',
        enqueuedTimeUtc: '2026-03-01T00:00:00.000Z',
        deliveryCount: 1,
      },
    }) as unknown as InvocationContext;
    await trigger(JSON.stringify(event), client, context);
    assert.equal(started[0]?.options.input.event.enqueuedTimeUtc, '2026-03-01T00:00:00.000Z');
    assert.deepEqual(sink.lines, [
      {
        level: 'info',
        event: 'orderReceived',
        zone: 'cn',
        messageId: 'sea:sea-9:1',
        sessionId: 'sea:sea-9',
        orderId: 'sea-9',
        region: 'sea',
        version: 1,
        instanceId: 'orderevent-sea-sea-9-v1',
        enqueuedTimeUtc: '2026-03-01T00:00:00.000Z',
        deliveryCount: 1,
      },
    ]);
  });

  it('logs a dead-lettered message with its reason and counts it', async () => {
    const sink = recorder();
    const context = Object.assign(sink, {
      triggerMetadata: { messageId: 'm-bad', sessionId: 'sea:x', sequenceNumber: 12, deliveryCount: 1 },
    }) as unknown as InvocationContext;
    await trigger('{"not":"an order"}', {} as df.DurableClient, context);
    assert.equal(dead.length, 1);
    const [line, metric] = sink.lines;
    assert.deepEqual(
      {
        level: line?.level,
        event: line?.event,
        messageId: line?.messageId,
        sessionId: line?.sessionId,
        queue: line?.queue,
        deadLetterId: line?.deadLetterId,
        reason: line?.reason,
      },
      {
        level: 'warn',
        event: 'deadLettered',
        messageId: 'm-bad',
        sessionId: 'sea:x',
        queue: 'order-events',
        deadLetterId: dead[0]?.id,
        reason: 'schema',
      },
    );
    assert.deepEqual(metric, {
      level: 'info',
      event: 'metric',
      zone: 'cn',
      metric: 'regionsync.dead_letter_count',
      value: 1,
      queue: 'order-events',
      source: 'trigger',
    });
  });
});

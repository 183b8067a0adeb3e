import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  applyLocalSettings,
  HostConfigError,
  parseTimeSpan,
  readHostJson,
  resolveBindingExpressions,
} from '../../devhost/settings';
import { parseSchedule, ScheduleError, validateTimeZone } from '../../devhost/timer/schedule';
import { tempDir } from './helpers';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('timer schedules', () => {
  it('reads six-field NCRONTAB with seconds, in UTC by default', () => {
    const every10s = parseSchedule('*/10 * * * * *');
    assert.equal(iso(every10s.next(at('2026-01-01T00:00:00Z'))), '2026-01-01T00:00:10.000Z');
    assert.equal(
      iso(every10s.next(at('2026-01-01T00:00:10Z'))),
      '2026-01-01T00:00:20.000Z',
      'strictly after',
    );
    const weekdays = parseSchedule('0 30 9 * * 1-5');
    assert.equal(
      iso(weekdays.next(at('2026-01-03T00:00:00Z'))),
      '2026-01-05T09:30:00.000Z',
      'Saturday -> Monday',
    );
  });

  it('evaluates NCRONTAB in WEBSITE_TIME_ZONE when set', () => {
    const twoAm = parseSchedule('0 0 2 * * *', validateTimeZone('Asia/Shanghai'));
    assert.equal(iso(twoAm.next(at('2026-01-01T00:00:00Z'))), '2026-01-01T18:00:00.000Z');
    assert.throws(() => validateTimeZone('Mars/Olympus'), ScheduleError);
  });

  it('reads TimeSpan schedules as a fixed interval', () => {
    const schedule = parseSchedule('01:30:00');
    assert.equal(schedule.kind, 'interval');
    assert.equal(iso(schedule.next(at('2026-01-01T00:00:00Z'))), '2026-01-01T01:30:00.000Z');
  });

  it('refuses five-field cron and invalid expressions with a clear error', () => {
    assert.throws(() => parseSchedule('*/5 * * * *'), /six/);
    assert.throws(() => parseSchedule('0 61 * * * *'), /not a valid NCRONTAB/);
  });

  it('parses .NET TimeSpan text', () => {
    assert.equal(parseTimeSpan('00:05:00'), 300_000);
    assert.equal(parseTimeSpan('1.02:00:00'), 26 * 3_600_000);
    assert.equal(parseTimeSpan('00:00:01.5'), 1500);
    assert.equal(parseTimeSpan('5 minutes'), undefined);
  });
});

describe('host.json and app settings', () => {
  const { dir, cleanup } = tempDir('settings');
  after(cleanup);

  it('reads the route prefix, functionTimeout and log levels', () => {
    writeFileSync(
      path.join(dir, 'host.json'),
      JSON.stringify({
        version: '2.0',
        functionTimeout: '00:02:00',
        logging: { logLevel: { default: 'Warning', 'Function.x': 'Debug' } },
        extensions: { http: { routePrefix: '/v2/' } },
      }),
    );
    const settings = readHostJson(dir);
    assert.equal(settings.routePrefix, 'v2');
    assert.equal(settings.functionTimeoutMs, 120_000);
    assert.deepEqual(settings.logLevels, { default: 'warning', 'Function.x': 'debug' });
  });

  it('defaults to the api prefix and no timeout, and treats -1 as unbounded', () => {
    writeFileSync(path.join(dir, 'host.json'), JSON.stringify({ version: '2.0', functionTimeout: '-1' }));
    const settings = readHostJson(dir);
    assert.equal(settings.routePrefix, 'api');
    assert.equal(settings.functionTimeoutMs, undefined);
  });

  it('reports an unreadable host.json', () => {
    writeFileSync(path.join(dir, 'host.json'), '{ "version": ');
    assert.throws(() => readHostJson(dir), HostConfigError);
  });

  it('loads local.settings.json Values without overriding the environment', () => {
    writeFileSync(
      path.join(dir, 'local.settings.json'),
      JSON.stringify({ IsEncrypted: false, Values: { A: 'from file', B: 'from file' } }),
    );
    const env: NodeJS.ProcessEnv = { B: 'from env' };
    const result = applyLocalSettings(dir, env);
    assert.deepEqual(env, { A: 'from file', B: 'from env' });
    assert.deepEqual(result.skipped, ['B']);
  });

  it('resolves %Setting% expressions in bindings and names the missing ones', () => {
    const metadata = {
      name: 'f',
      bindings: {
        t: {
          type: 'serviceBusTrigger',
          direction: 'in' as const,
          queueName: '%QUEUE%',
          connection: 'SB',
          note: '100%% sure',
        },
        o: { type: 'queue', direction: 'out' as const, queueName: '%OUT%-%REGION%' },
      },
    };
    const missing = resolveBindingExpressions(metadata, { QUEUE: 'orders', REGION: 'eu' });
    assert.equal(metadata.bindings.t.queueName, 'orders');
    assert.equal(metadata.bindings.t.connection, 'SB');
    assert.equal(metadata.bindings.t.note, '100% sure');
    assert.deepEqual(missing, ['OUT']);
  });
});

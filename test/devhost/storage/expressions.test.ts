import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConnection } from '../../../devhost/storage/connection';
import {
  formatDateTime,
  matchBlobPath,
  resolveAppSettings,
  resolveTemplate,
  splitBlobPath,
} from '../../../devhost/storage/expressions';
import { poisonQueueName, queuesOptionsFrom } from '../../../devhost/storage/queueListener';

const now = new Date(Date.UTC(2026, 1, 3, 4, 5, 6, 789));

void describe('binding expressions', () => {
  void it('resolves names case-insensitively, dotted paths, numbers, and fails on unknown names', () => {
    const data = { QueueTrigger: 'msg', order: { Id: 7, region: 'eu' } };
    assert.equal(
      resolveTemplate('out/{queueTrigger}/{Order.id}-{order.Region}.json', data, now),
      'out/msg/7-eu.json',
    );
    assert.throws(
      () => resolveTemplate('out/{missing}', data, now),
      /No value for named parameter 'missing'/,
    );
  });

  void it('knows {DateTime} (default and .NET formats) and {rand-guid} (D and N)', () => {
    assert.equal(resolveTemplate('{DateTime}', {}, now), '2026-02-03T04-05-06Z');
    assert.equal(resolveTemplate('{datetime:yyyy/MM/dd HH:mm:ss.fff}', {}, now), '2026/02/03 04:05:06.789');
    assert.equal(formatDateTime(now, "yyyyMMdd'T'HHmm"), '20260203T0405');
    assert.match(
      resolveTemplate('{rand-guid}', {}, now),
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    assert.match(resolveTemplate('{rand-guid:N}', {}, now), /^[0-9a-f]{32}$/);
    assert.notEqual(resolveTemplate('{rand-guid}', {}, now), resolveTemplate('{rand-guid}', {}, now));
    // Binding data of that name wins over the system value, as in the host.
    assert.equal(resolveTemplate('{DateTime}', { datetime: 'mine' }, now), 'mine');
  });

  void it('replaces %settings% and reports a missing one', () => {
    assert.equal(resolveAppSettings('%Queue%-x', { queue: 'orders' }), 'orders-x');
    assert.throws(() => resolveAppSettings('%Nope%', {}), /%Nope%/);
  });

  void it('matches blob trigger paths and captures names (slashes included)', () => {
    assert.deepEqual(matchBlobPath('uploads/{name}', 'uploads/a/b.txt'), { name: 'a/b.txt' });
    assert.deepEqual(matchBlobPath('uploads/{name}.{ext}', 'uploads/x.tar.gz'), { name: 'x.tar', ext: 'gz' });
    assert.deepEqual(matchBlobPath('uploads/in-{id}.json', 'uploads/in-42.json'), { id: '42' });
    assert.equal(matchBlobPath('uploads/in-{id}.json', 'uploads/out-42.json'), undefined);
    assert.equal(matchBlobPath('uploads/{name}', 'other/a.txt'), undefined);
    assert.deepEqual(matchBlobPath('uploads', 'uploads/any/thing'), {});
    assert.deepEqual(splitBlobPath('c1x/a/b'), { container: 'c1x', blob: 'a/b' });
    assert.throws(() => splitBlobPath('justcontainer'), /container\/blob/);
  });
});

void describe('storage connections', () => {
  void it('resolves AzureWebJobs<name> before <name>, development storage, and identity-based settings', () => {
    assert.deepEqual(resolveConnection(undefined, { AzureWebJobsStorage: 'UseDevelopmentStorage=true' }), {
      kind: 'development',
      setting: 'AzureWebJobsStorage',
    });
    const cs = 'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=a2V5;EndpointSuffix=core.windows.net';
    assert.equal(
      resolveConnection('Other', { AzureWebJobsOther: cs, Other: 'ignored' }).kind,
      'connectionString',
    );
    assert.deepEqual(resolveConnection('Data', { Data__accountName: 'acct', Data__clientId: 'cid' }), {
      kind: 'identity',
      setting: 'Data',
      blobServiceUri: 'https://acct.blob.core.windows.net',
      queueServiceUri: 'https://acct.queue.core.windows.net',
      clientId: 'cid',
    });
    const explicit = resolveConnection('Data', { Data__queueServiceUri: 'https://q.example' });
    assert.equal(explicit.kind === 'identity' && explicit.queueServiceUri, 'https://q.example');
    assert.throws(
      () => resolveConnection('Missing', {}),
      /'AzureWebJobsMissing' or 'Missing' does not exist/,
    );
  });

  void it('reads host.json queue options with the extension defaults', () => {
    const defaults = queuesOptionsFrom({});
    assert.equal(defaults.maxDequeueCount, 5);
    assert.equal(defaults.batchSize, 16);
    assert.equal(defaults.newBatchThreshold, 8);
    assert.equal(defaults.visibilityTimeoutMs, 0);
    assert.equal(defaults.messageEncoding, 'base64');
    const custom = queuesOptionsFrom({
      extensions: {
        queues: {
          maxDequeueCount: 2,
          visibilityTimeout: '00:00:30',
          maxPollingInterval: 500,
          messageEncoding: 'None',
        },
      },
    });
    assert.equal(custom.maxDequeueCount, 2);
    assert.equal(custom.visibilityTimeoutMs, 30_000);
    assert.equal(custom.maxPollingIntervalMs, 500);
    assert.equal(custom.messageEncoding, 'none');
    assert.throws(() => queuesOptionsFrom({ extensions: { queues: { batchSize: 64 } } }), /batchSize/);
    assert.equal(poisonQueueName('orders'), 'orders-poison');
    assert.equal(poisonQueueName('orders-poison'), undefined);
    assert.equal(poisonQueueName('q'.repeat(60)), undefined);
  });
});

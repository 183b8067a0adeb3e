import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isListening } from '../../../devhost/storage/azurite';
import { BLOB_TRIGGER_POISON_QUEUE, HOSTS_CONTAINER } from '../../../devhost/storage/storageExtension';
import {
  base64,
  delay,
  eventually,
  executions,
  peekAll,
  startStorageHost,
  type StorageHost,
} from './harness';

void describe('storage triggers and bindings on an in-process Azurite', () => {
  let host: StorageHost;

  before(async () => {
    // The default: the extension starts its own Azurite on free ports (in memory, as the ':memory:' data dir asks).
    host = await startStorageHost({});
  });

  after(async () => {
    await host?.stop();
  });

  void it('started its own Azurite because AzureWebJobsStorage is UseDevelopmentStorage=true', () => {
    assert.equal(host.extension.azurite?.mode, 'own');
    assert.deepEqual(host.extension.azurite?.settings, ['AzureWebJobsStorage']);
    assert.equal(host.extension.azurite?.location, 'memory');
  });

  void it('fires a blob trigger once per blob version, with its metadata', async () => {
    const uploads = host.blob.getContainerClient('uploads');
    await uploads.createIfNotExists();
    await uploads.getBlockBlobClient('reports/q1.txt').upload('first', 5, { metadata: { origin: 'test' } });
    const processed = host.queues.getQueueClient('uploads-processed');
    const first = await eventually(async () => {
      const all = (await peekAll(processed)).map((m) => JSON.parse(m) as Record<string, unknown>);
      return all.find((m) => m.name === 'reports/q1.txt');
    }, 'the blob trigger to record reports/q1.txt');
    assert.equal(first.content, 'first');
    assert.equal(first.isBuffer, true);
    assert.equal(first.blobTrigger, 'uploads/reports/q1.txt');
    assert.match(String(first.uri), /\/devstoreaccount1\/uploads\/reports\/q1\.txt$/);
    assert.equal(first.contentLength, 5);
    assert.deepEqual(first.metadata, { origin: 'test' });

    // Many scans later the same version has not fired again.
    await delay(800);
    const count = async (content: string) =>
      (await peekAll(processed))
        .map((m) => JSON.parse(m) as Record<string, unknown>)
        .filter((m) => m.name === 'reports/q1.txt' && m.content === content).length;
    assert.equal(await count('first'), 1);
    assert.equal(executions(host.logs, 'ProcessUpload', 'Succeeded'), 1);

    // A new version of the same blob fires again, once.
    await uploads.getBlockBlobClient('reports/q1.txt').upload('second!', 7);
    await eventually(
      async () => ((await count('second!')) === 1 ? true : undefined),
      'the changed blob to fire',
    );
    await delay(500);
    assert.equal(await count('second!'), 1);
    assert.equal(await count('first'), 1);

    // Receipts are kept where the storage extension keeps them.
    const receipts: string[] = [];
    for await (const b of host.blob
      .getContainerClient(HOSTS_CONTAINER)
      .listBlobsFlat({ prefix: 'blobreceipts/' })) {
      receipts.push(b.name);
    }
    const mine = receipts.filter((n) => n.endsWith('/uploads/reports/q1.txt'));
    assert.equal(mine.length, 2, `two versions, two receipts: ${mine.join(', ')}`);
    assert.ok(
      mine.every((n) => n.startsWith(`blobreceipts/${host.extension.hostId}/Host.Functions.ProcessUpload/"`)),
    );
  });

  void it('moves a blob whose function fails 5 times to webjobs-blobtrigger-poison', async () => {
    const uploads = host.blob.getContainerClient('uploads');
    await uploads.createIfNotExists();
    const before = executions(host.logs, 'ProcessUpload', 'Failed');
    await uploads.getBlockBlobClient('poison-1.bin').upload('bad', 3);
    const poison = host.queues.getQueueClient(BLOB_TRIGGER_POISON_QUEUE);
    const message = await eventually(async () => {
      const all = (await peekAll(poison)).map((m) => JSON.parse(m) as Record<string, unknown>);
      return all.find((m) => m.BlobName === 'poison-1.bin');
    }, 'the poison blob message');
    assert.equal(message.Type, 'BlobTrigger');
    assert.equal(message.FunctionId, 'Host.Functions.ProcessUpload');
    assert.equal(message.ContainerName, 'uploads');
    assert.match(String(message.ETag), /^".+"$/);
    assert.equal(executions(host.logs, 'ProcessUpload', 'Failed') - before, 5);
    await delay(500);
    assert.equal(executions(host.logs, 'ProcessUpload', 'Failed') - before, 5, 'no attempt after poisoning');
  });

  void it('runs a queue trigger on a base64 message with the metadata the host gives, and writes queue and blob outputs', async () => {
    const orders = host.queues.getQueueClient('orders');
    await orders.createIfNotExists();
    const sent = await orders.sendMessage(base64(JSON.stringify({ orderId: 'A1', total: 42 })));
    const year = new Date().getUTCFullYear();
    const receiptBlob = host.blob.getContainerClient('receipts').getBlobClient(`A1-${year}.json`);
    const receipt = await eventually(async () => {
      if (!(await receiptBlob.exists())) return undefined;
      return JSON.parse((await receiptBlob.downloadToBuffer()).toString('utf8')) as {
        orderId: string;
        total: number;
        metadata: Record<string, unknown>;
      };
    }, 'the receipt blob');
    assert.equal(receipt.total, 42);
    const meta = receipt.metadata;
    assert.equal(meta.id, sent.messageId);
    assert.equal(meta.dequeueCount, 1);
    assert.equal(typeof meta.popReceipt, 'string');
    assert.match(String(meta.insertionTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$/);
    assert.ok(Date.parse(String(meta.expirationTime)) > Date.parse(String(meta.insertionTime)));
    assert.ok(Date.parse(String(meta.nextVisibleTime)) > Date.now() - 60_000);
    assert.deepEqual(meta.queueTrigger, { orderId: 'A1', total: 42 });

    // An array on a queue output is one message per element, base64-encoded as host.json says.
    const confirmations = host.queues.getQueueClient('order-confirmations');
    const raw = await eventually(async () => {
      const all = await peekAll(confirmations, true);
      return all.length >= 2 ? all : undefined;
    }, 'two confirmations');
    const decoded = raw.map(
      (m) => JSON.parse(Buffer.from(m, 'base64').toString('utf8')) as Record<string, unknown>,
    );
    assert.deepEqual(
      decoded.filter((m) => m.orderId === 'A1').map((m) => m.step),
      ['received', 'confirmed'],
    );
    // The processed message is gone from the queue.
    await eventually(
      async () => ((await orders.getProperties()).approximateMessagesCount === 0 ? true : undefined),
      'the order message to be deleted',
    );
  });

  void it('retries a failing message with a growing dequeueCount and succeeds', async () => {
    const orders = host.queues.getQueueClient('orders');
    await orders.sendMessage(base64(JSON.stringify({ orderId: 'R3', total: 1, failUntilAttempt: 3 })));
    const year = new Date().getUTCFullYear();
    const blob = host.blob.getContainerClient('receipts').getBlobClient(`R3-${year}.json`);
    const receipt = await eventually(async () => {
      if (!(await blob.exists())) return undefined;
      return JSON.parse((await blob.downloadToBuffer()).toString('utf8')) as {
        metadata: { dequeueCount: number };
      };
    }, 'the retried order');
    assert.equal(receipt.metadata.dequeueCount, 3);
    assert.equal(await host.queues.getQueueClient('orders-poison').exists(), false);
  });

  void it('moves a message that fails maxDequeueCount (5) times to <queue>-poison, unchanged', async () => {
    const orders = host.queues.getQueueClient('orders');
    const text = base64(JSON.stringify({ orderId: 'P1', alwaysFail: true }));
    const failedBefore = executions(host.logs, 'ProcessOrder', 'Failed');
    await orders.sendMessage(text);
    const poison = host.queues.getQueueClient('orders-poison');
    const poisoned = await eventually(async () => {
      const all = await peekAll(poison, true);
      return all.includes(text) ? all : undefined;
    }, 'the poison message');
    assert.equal(poisoned.filter((m) => m === text).length, 1);
    assert.equal(executions(host.logs, 'ProcessOrder', 'Failed') - failedBefore, 5);
    assert.ok(
      host.logs.some((l) =>
        l.includes("Message has reached MaxDequeueCount of 5. Moving message to queue 'orders-poison'."),
      ),
    );
  });

  void it('does not hand a message that is not base64 to the function, and poisons it after 5 dequeues', async () => {
    const orders = host.queues.getQueueClient('orders');
    const succeededBefore = executions(host.logs, 'ProcessOrder', 'Succeeded');
    const failedBefore = executions(host.logs, 'ProcessOrder', 'Failed');
    await orders.sendMessage('{"orderId":"not-base64!"}');
    const poison = host.queues.getQueueClient('orders-poison');
    await eventually(async () => {
      const all = await peekAll(poison, true);
      return all.includes('{"orderId":"not-base64!"}') ? true : undefined;
    }, 'the undecodable message in orders-poison');
    assert.equal(executions(host.logs, 'ProcessOrder', 'Succeeded'), succeededBefore);
    assert.equal(executions(host.logs, 'ProcessOrder', 'Failed'), failedBefore);
  });

  void it('delivers a queue return binding (plain text message)', async () => {
    const input = host.queues.getQueueClient('shout-in');
    await input.createIfNotExists();
    await input.sendMessage(base64('hello'));
    const out = host.queues.getQueueClient('shout-out');
    const messages = await eventually(async () => {
      const all = await peekAll(out);
      return all.length > 0 ? all : undefined;
    }, 'the shout-out message');
    assert.deepEqual(messages, ['HELLO']);
  });

  void it('binds blob input and output of an HTTP function with route, query, {rand-guid} expressions', async () => {
    const invoke = (name: string, suffix?: string) =>
      host.invoker.invoke({
        functionName: 'CopyBlob',
        triggerData: {
          http: {
            method: 'POST',
            url: `http://localhost:7071/api/documents/${name}/copy${suffix ? `?suffix=${suffix}` : ''}`,
            headers: {},
            query: suffix ? { suffix } : {},
            params: { name },
            body: { string: '' },
          },
        },
      });
    const missing = await invoke('nothing.txt');
    assert.equal(missing.error, undefined);
    assert.equal(missing.response?.returnValue?.http?.statusCode, '404');

    const documents = host.blob.getContainerClient('documents');
    await documents.createIfNotExists();
    await documents.getBlockBlobClient('memo.txt').upload('memo body', 9);
    const copied = await invoke('memo.txt', '-copy');
    assert.equal(copied.error, undefined);
    assert.equal(copied.response?.returnValue?.http?.statusCode, '201');

    const copies: string[] = [];
    for await (const b of host.blob.getContainerClient('copies').listBlobsFlat({ prefix: 'memo.txt/' }))
      copies.push(b.name);
    assert.equal(copies.length, 1);
    assert.match(
      copies[0]!,
      /^memo\.txt\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.txt$/,
    );
    const content = await host.blob.getContainerClient('copies').getBlobClient(copies[0]!).downloadToBuffer();
    assert.equal(content.toString('utf8'), 'memo body-copy');
  });

  void it('stops the Azurite it started when the host stops', async () => {
    const port = Number(new URL(host.extension.azurite!.blobEndpoint).port);
    assert.equal(await isListening(port), true);
    await host.stop();
    await eventually(
      async () => ((await isListening(port)) ? undefined : true),
      'the blob port to close',
      5000,
    );
    host = undefined as unknown as StorageHost;
  });
});

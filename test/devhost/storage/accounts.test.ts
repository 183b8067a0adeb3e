import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { isListening, startAzurite } from '../../../devhost/storage/azurite';
import { eventually, peekAll, startStorageHost } from './harness';

const portsOf = (az: { blobEndpoint: string; queueEndpoint: string; tableEndpoint: string }) => ({
  blob: Number(new URL(az.blobEndpoint).port),
  queue: Number(new URL(az.queueEndpoint).port),
  table: Number(new URL(az.tableEndpoint).port),
});

void describe('startAzurite', () => {
  void it('keeps data on disk across a restart on the same location', async () => {
    const location = mkdtempSync(path.join(os.tmpdir(), 'azurite-'));
    try {
      const first = await startAzurite({ location, blobPort: 0, queuePort: 0, tablePort: 0 });
      const container = BlobServiceClient.fromConnectionString(first.connectionString).getContainerClient(
        'keep',
      );
      await container.createIfNotExists();
      await container.getBlockBlobClient('a.txt').upload('kept', 4);
      const queue = QueueServiceClient.fromConnectionString(first.connectionString).getQueueClient(
        'kept-queue',
      );
      await queue.createIfNotExists();
      await queue.sendMessage('still here');
      const ports = portsOf(first);
      await first.stop();
      await first.stop(); // idempotent

      const second = await startAzurite({ location, blobPort: 0, queuePort: 0, tablePort: 0 });
      try {
        const blob = BlobServiceClient.fromConnectionString(second.connectionString)
          .getContainerClient('keep')
          .getBlobClient('a.txt');
        assert.equal((await blob.downloadToBuffer()).toString('utf8'), 'kept');
        const again = QueueServiceClient.fromConnectionString(second.connectionString).getQueueClient(
          'kept-queue',
        );
        assert.deepEqual(await peekAll(again, true), ['still here']);
        assert.equal(await isListening(ports.blob), ports.blob === portsOf(second).blob);
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(location, { recursive: true, force: true });
    }
  });

  void it('keeps two in-memory instances apart', async () => {
    const [a, b] = await Promise.all([
      startAzurite({ inMemory: true, blobPort: 0, queuePort: 0, tablePort: 0 }),
      startAzurite({ inMemory: true, blobPort: 0, queuePort: 0, tablePort: 0 }),
    ]);
    try {
      const inA = BlobServiceClient.fromConnectionString(a.connectionString).getContainerClient('only-in-a');
      await inA.createIfNotExists();
      const inB = BlobServiceClient.fromConnectionString(b.connectionString).getContainerClient('only-in-a');
      assert.equal(await inB.exists(), false);
      assert.match(a.connectionString, /AccountName=devstoreaccount1;/);
      assert.equal(await isListening(portsOf(a).table), true);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

void describe('accounts other than a devhost-started Azurite', () => {
  void it('refuses, naming the option, to start its own Azurite on ports an emulator already holds', async () => {
    const external = await startAzurite({ inMemory: true, blobPort: 0, queuePort: 0, tablePort: 0 });
    try {
      const ports = portsOf(external);
      await assert.rejects(
        startStorageHost({
          settings: { DEVHOST_AZURITE_PORTS: `${ports.blob},${ports.queue},${ports.table}` },
        }),
        (err: Error) =>
          err.message.includes(String(ports.blob)) && err.message.includes('--storage-emulator external'),
      );
    } finally {
      await external.stop();
    }
  });

  void it('with the external option, uses the emulator listening on the Azurite ports and leaves it running', async () => {
    const external = await startAzurite({ inMemory: true, blobPort: 0, queuePort: 0, tablePort: 0 });
    try {
      const ports = portsOf(external);
      const host = await startStorageHost({
        settings: {
          DEVHOST_AZURITE_PORTS: `${ports.blob},${ports.queue},${ports.table}`,
          DEVHOST_STORAGE_EMULATOR: 'external',
        },
        // messageEncoding none: messages are plain text both ways.
        hostJson: {
          version: '2.0',
          extensions: { queues: { maxPollingInterval: '00:00:00.200', messageEncoding: 'none' } },
        },
      });
      assert.equal(host.extension.azurite?.mode, 'external');
      assert.equal(host.extension.azurite?.blobEndpoint, external.blobEndpoint);
      assert.ok(
        host.logs.some((l) => l.includes(`external storage emulator at blob ${external.blobEndpoint}`)),
      );

      const queues = QueueServiceClient.fromConnectionString(external.connectionString);
      await queues.getQueueClient('shout-in').createIfNotExists();
      await queues.getQueueClient('shout-in').sendMessage('quiet please');
      const out = await eventually(async () => {
        const all = await peekAll(queues.getQueueClient('shout-out'), true);
        return all.length > 0 ? all : undefined;
      }, 'the plain-text output');
      assert.deepEqual(out, ['QUIET PLEASE']);

      await host.stop();
      assert.equal(await isListening(ports.blob), true, 'a reused emulator keeps running');
      assert.equal(await queues.getQueueClient('shout-out').exists(), true);
    } finally {
      await external.stop();
    }
  });

  void it('sends a real connection string to that account through the same code path, starting no emulator', async () => {
    const account = await startAzurite({ inMemory: true, blobPort: 0, queuePort: 0, tablePort: 0 });
    try {
      const host = await startStorageHost({ settings: { AzureWebJobsStorage: account.connectionString } });
      try {
        assert.equal(host.extension.azurite, undefined);
        const queues = QueueServiceClient.fromConnectionString(account.connectionString);
        await queues.getQueueClient('shout-in').createIfNotExists();
        await queues.getQueueClient('shout-in').sendMessage(Buffer.from('via account').toString('base64'));
        const out = await eventually(async () => {
          const all = await peekAll(queues.getQueueClient('shout-out'));
          return all.length > 0 ? all : undefined;
        }, 'the output on the configured account');
        assert.deepEqual(out, ['VIA ACCOUNT']);
      } finally {
        await host.stop();
      }
    } finally {
      await account.stop();
    }
  });
});

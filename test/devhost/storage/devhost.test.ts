import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import {
  emulatorConnectionString,
  emulatorEndpoints,
  isListening,
  startAzurite,
  type AzuriteInstance,
} from '../../../devhost/storage/azurite';
import { startDevhost, type Devhost } from '../../support/devhost';
import { eventually, peekAll, STORAGE_APP } from './harness';

/** The fixture app under `devhost start`, exactly as a user runs it, with the Azurite a user already started. */
void describe('devhost start with storage bindings (child process)', () => {
  let azurite: AzuriteInstance;
  let host: Devhost;
  let ports: { blob: number; queue: number; table: number };

  before(async () => {
    azurite = await startAzurite({ inMemory: true, blobPort: 0, queuePort: 0, tablePort: 0 });
    ports = {
      blob: Number(new URL(azurite.blobEndpoint).port),
      queue: Number(new URL(azurite.queueEndpoint).port),
      table: Number(new URL(azurite.tableEndpoint).port),
    };
    host = await startDevhost({
      appDir: STORAGE_APP,
      env: { DEVHOST_AZURITE_PORTS: `${ports.blob},${ports.queue},${ports.table}` },
    });
  });

  after(async () => {
    await host?.stop();
    await azurite?.stop();
  });

  void it('serves HTTP with blob input/output, fires blob and queue triggers against the running emulator', async () => {
    const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const queues = QueueServiceClient.fromConnectionString(azurite.connectionString);

    const documents = blobs.getContainerClient('documents');
    await documents.createIfNotExists();
    await documents.getBlockBlobClient('letter.txt').upload('Dear Sir', 8);
    const response = await fetch(`${host.origin}/api/documents/letter.txt/copy?suffix=!`, { method: 'POST' });
    assert.equal(response.status, 201);
    assert.deepEqual(await response.json(), { name: 'letter.txt', bytes: 8 });
    assert.equal((await fetch(`${host.origin}/api/documents/none.txt/copy`, { method: 'POST' })).status, 404);

    const uploads = blobs.getContainerClient('uploads');
    await uploads.createIfNotExists();
    await uploads.getBlockBlobClient('e2e.txt').upload('end to end', 10);
    const processed = await eventually(async () => {
      const all = (await peekAll(queues.getQueueClient('uploads-processed'))).map(
        (m) => JSON.parse(m) as { name: string },
      );
      return all.find((m) => m.name === 'e2e.txt');
    }, 'the blob trigger under devhost start');
    assert.equal((processed as { content?: string }).content, 'end to end');

    await queues.getQueueClient('shout-in').createIfNotExists();
    await queues.getQueueClient('shout-in').sendMessage(Buffer.from('from a terminal').toString('base64'));
    const shouted = await eventually(async () => {
      const all = await peekAll(queues.getQueueClient('shout-out'));
      return all.length > 0 ? all : undefined;
    }, 'the queue trigger under devhost start');
    assert.deepEqual(shouted, ['FROM A TERMINAL']);
  });

  void it('leaves the emulator it found running after a graceful stop', async () => {
    const exit = await host.stop();
    assert.equal(exit.code, 0);
    assert.equal(await isListening(ports.blob), true);
  });
});

/** Three ports nothing listens on right now. */
async function freePorts(): Promise<number[]> {
  const servers = await Promise.all(
    [0, 1, 2].map(
      () =>
        new Promise<Server>((resolve) => {
          const server = createServer();
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

void describe('two devhosts starting at once with UseDevelopmentStorage=true', () => {
  void it('both start: one runs Azurite, the other uses it', async () => {
    const ports = await freePorts();
    const env = { DEVHOST_AZURITE_PORTS: ports.join(',') };
    const hosts = await Promise.all([
      startDevhost({ appDir: STORAGE_APP, env }),
      startDevhost({ appDir: STORAGE_APP, env }),
    ]);
    try {
      assert.equal(await isListening(ports[0]!), true);
      const queues = QueueServiceClient.fromConnectionString(
        emulatorConnectionString(emulatorEndpoints({ blob: ports[0]!, queue: ports[1]!, table: ports[2]! })),
      );
      await queues.getQueueClient('shout-in').createIfNotExists();
      await queues.getQueueClient('shout-in').sendMessage(Buffer.from('race').toString('base64'));
      const out = await eventually(async () => {
        const all = await peekAll(queues.getQueueClient('shout-out'));
        return all.length > 0 ? all : undefined;
      }, 'one of the two hosts to process the message');
      assert.deepEqual(out, ['RACE']);
    } finally {
      await Promise.all(hosts.map((h) => h.stop()));
    }
  });
});

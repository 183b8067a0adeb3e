import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
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
import { runDevhostToExit, startDevhost, type Devhost } from '../../support/devhost';
import { eventually, peekAll, STORAGE_APP } from './harness';

/** The fixture app under `devhost start`, exactly as a user runs it, with the Azurite a user already started. */
void describe('devhost start --storage-emulator external (child process)', () => {
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
      args: ['--storage-emulator', 'external'],
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

interface Status {
  status: string;
  checks: { name: string; ok: boolean; detail: string; data?: { blobEndpoint?: string } }[];
}

async function storageStatus(host: Devhost): Promise<{ body: Status; blobPort: number }> {
  const res = await fetch(`${host.origin}/admin/status`);
  const body = (await res.json()) as Status;
  const endpoint = body.checks.find((c) => c.name === 'storage emulator')?.data?.blobEndpoint;
  assert.ok(endpoint, JSON.stringify(body));
  return { body, blobPort: Number(new URL(endpoint).port) };
}

void describe('devhost runs its own storage emulator per data directory (child processes)', () => {
  const roots: string[] = [];
  const dataDir = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'devhost-storage-'));
    roots.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of roots) rmSync(dir, { recursive: true, force: true });
  });

  void it('two devhosts at once each get their own Azurite on free ports, and app code reaches its own', async () => {
    const env = { DEVHOST_AZURITE_PORTS: '', DEVHOST_STORAGE_EMULATOR: '' };
    const hosts = await Promise.all([
      startDevhost({ appDir: STORAGE_APP, dataDir: dataDir(), env }),
      startDevhost({ appDir: STORAGE_APP, dataDir: dataDir(), env }),
    ]);
    try {
      const [a, b] = await Promise.all(hosts.map((h) => storageStatus(h)));
      assert.equal(a!.body.status, 'ok', JSON.stringify(a!.body));
      assert.equal(b!.body.status, 'ok', JSON.stringify(b!.body));
      assert.notEqual(a!.blobPort, b!.blobPort);
      assert.ok(![10000, 10001, 10002].includes(a!.blobPort), 'not the well-known ports');

      // The app builds its own BlobServiceClient from NOTES_STORAGE=UseDevelopmentStorage=true.
      const res = await fetch(`${hosts[0].origin}/api/notes/hello.txt`, { method: 'POST', body: 'from A' });
      assert.equal(res.status, 201, await res.clone().text());
      const { url } = (await res.json()) as { url: string };
      assert.equal(new URL(url).port, String(a!.blobPort));
      const endpoints = (port: number) =>
        emulatorConnectionString(emulatorEndpoints({ blob: port, queue: 1, table: 1 }));
      const inA = BlobServiceClient.fromConnectionString(endpoints(a!.blobPort)).getContainerClient('notes');
      const inB = BlobServiceClient.fromConnectionString(endpoints(b!.blobPort)).getContainerClient('notes');
      assert.equal((await inA.getBlobClient('hello.txt').downloadToBuffer()).toString(), 'from A');
      assert.equal(await inB.exists(), false);
    } finally {
      await Promise.all(hosts.map((h) => h.stop()));
    }
  });

  void it('refuses a second devhost on the same data directory, naming the first', async () => {
    const dir = dataDir();
    const first = await startDevhost({ appDir: STORAGE_APP, dataDir: dir });
    try {
      const second = await runDevhostToExit({ appDir: STORAGE_APP, dataDir: dir });
      assert.equal(second.code, 1);
      assert.match(second.output, new RegExp(`in use by devhost process ${first.pid}`));
      assert.equal((await storageStatus(first)).body.status, 'ok');
    } finally {
      await first.stop();
    }
  });

  void it('refuses to start with --storage-emulator external when nothing answers there, naming the endpoint', async () => {
    const [port] = await freePorts();
    const exit = await runDevhostToExit({
      appDir: STORAGE_APP,
      env: { DEVHOST_AZURITE_PORTS: `${port},${port},${port}` },
      args: ['--storage-emulator', 'external'],
    });
    assert.equal(exit.code, 1);
    assert.match(
      exit.output,
      new RegExp(`external storage emulator at http://127.0.0.1:${port}/devstoreaccount1`),
    );
    assert.match(exit.output, /ECONNREFUSED/);
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

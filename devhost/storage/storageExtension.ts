import { createHash, randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { BlobServiceClient } from '@azure/storage-blob';
import type { QueueClient } from '@azure/storage-queue';
import type { HealthCheck, HostExtension, HostServices, PrepareServices } from '../extension';
import type { RegisteredFunction } from '../worker/coreApi';
import type { BindingInfo, TypedData } from '../worker/coreTypes';
import { triggerBinding, type InvocationRequest } from '../worker/invoker';
import { isListening } from './azurite';
import { bindingDataOf } from './bindingData';
import { createClients, isDevelopmentStorage, resolveConnection, type StorageClients } from './connection';
import {
  AZURITE_PORTS_SETTING,
  EMULATOR_MODE_SETTING,
  parseAzuritePorts,
  parseEmulatorMode,
  provideDevelopmentStorage,
  type AzuritePorts,
  type DevelopmentStorage,
  type EmulatorMode,
} from './developmentStorage';
import { describeStorageError, StorageRequestError } from './errors';
import {
  lookupSetting,
  matchBlobPath,
  resolveAppSettings,
  resolveTemplate,
  splitBlobPath,
} from './expressions';
import {
  poisonQueueName,
  QueueListener,
  queuesOptionsFrom,
  statusOf,
  type QueuesOptions,
  type ReceivedQueueMessage,
} from './queueListener';

/** Container of the host's bookkeeping (blob receipts), as in Azure. */
export const HOSTS_CONTAINER = 'azure-webjobs-hosts';
/** Where blob triggers whose function failed maxDequeueCount times end, as in Azure. */
export const BLOB_TRIGGER_POISON_QUEUE = 'webjobs-blobtrigger-poison';

export interface StorageExtensionOptions {
  /** How often blob-trigger containers are listed (ms). Default: setting DEVHOST_BLOB_SCAN_INTERVAL_MS or 1000. */
  blobScanIntervalMs?: number;
  /**
   * `own` (default: setting DEVHOST_STORAGE_EMULATOR, else own): devhost runs its own Azurite;
   * `external`: it uses the emulator listening on the Azurite ports (see developmentStorage.ts).
   */
  emulator?: EmulatorMode;
  /** Azurite ports. Default: setting DEVHOST_AZURITE_PORTS ("blob,queue,table"), else free ports (own) or 10000-10002 (external). */
  azuritePorts?: AzuritePorts;
}

/** What devhost did about development storage. */
export interface AzuriteStatus extends Omit<DevelopmentStorage, 'stop'> {
  /** Settings that were `UseDevelopmentStorage=true` and now hold `connectionString`. */
  settings: string[];
}

/** A health probe must answer quickly and say what is wrong, not retry for 16 s. */
const PROBE_OPTIONS = { retryOptions: { maxTries: 1, tryTimeoutInMs: 3000 } };

interface BlobTriggerRegistration {
  fn: RegisteredFunction;
  functionId: string;
  /** `container/pattern` after app-setting substitution. */
  path: string;
  container: string;
}

interface Account {
  clients: StorageClients;
  queueListeners: Map<string, QueueListener[]>;
  blobTriggers: Map<string, BlobTriggerRegistration>;
  blobTriggerQueue?: QueueListener;
  /** `functionId\ncontainer/blob` → the ETag already handed to the blob trigger queue. */
  enqueued: Map<string, string>;
  scanWake?: () => void;
  scanLoop?: Promise<void>;
}

interface BlobTriggerMessage {
  Type: 'BlobTrigger';
  FunctionId: string;
  BlobType: string;
  ContainerName: string;
  BlobName: string;
  ETag: string;
}

/**
 * Azure Storage for devhost: blob and queue triggers, blob input/output and queue output
 * bindings, with Azurite started in-process (or reused) for `UseDevelopmentStorage=true` and
 * the real account otherwise. Blob triggers work as the storage extension's container scan
 * does: a scan finds new or changed blobs, writes a receipt per (function, blob, ETag) in
 * `azure-webjobs-hosts/blobreceipts/...` and enqueues a message on
 * `azure-webjobs-blobtrigger-<hostId>`; that queue is processed like any queue trigger, so
 * failures retry and end in `webjobs-blobtrigger-poison` after maxDequeueCount.
 */
export class StorageExtension implements HostExtension {
  readonly name = 'storage';
  readonly triggerTypes = ['blobTrigger', 'queueTrigger'] as const;
  readonly bindingTypes = ['blob', 'queue'] as const;

  azurite: AzuriteStatus | undefined;
  hostId = '';

  #services: HostServices | undefined;
  #development: DevelopmentStorage | undefined;
  readonly #accounts = new Map<string, Account>();
  #queues: QueuesOptions | undefined;
  #scanIntervalMs = 1000;
  #running = false;

  constructor(private readonly options: StorageExtensionOptions = {}) {}

  /**
   * Before the app loads: when any setting is `UseDevelopmentStorage=true`, provides the emulator
   * and rewrites each such setting to its explicit connection string, so the app's own clients
   * (built from AzureWebJobsStorage or any other setting) reach the same emulator as the bindings.
   */
  async prepare(services: PrepareServices): Promise<void> {
    const names = Object.keys(services.settings).filter((k) => isDevelopmentStorage(services.settings[k]));
    if (names.length === 0) return;
    if (!this.#development) {
      this.#development = await provideDevelopmentStorage({
        mode:
          this.options.emulator ?? parseEmulatorMode(lookupSetting(services.settings, EMULATOR_MODE_SETTING)),
        ports:
          this.options.azuritePorts ??
          parseAzuritePorts(lookupSetting(services.settings, AZURITE_PORTS_SETTING)),
        dataDir:
          services.dataDir === ':memory:' ? ':memory:' : path.resolve(services.appDir, services.dataDir),
        probeClient: (cs) => createClients({ kind: 'development', setting: '' }, cs, PROBE_OPTIONS).blob,
      });
    }
    const development = this.#development;
    for (const name of names) services.settings[name] = development.connectionString;
    this.azurite = {
      mode: development.mode,
      blobEndpoint: development.blobEndpoint,
      queueEndpoint: development.queueEndpoint,
      tableEndpoint: development.tableEndpoint,
      connectionString: development.connectionString,
      location: development.location,
      settings: [...new Set([...(this.azurite?.settings ?? []), ...names])],
    };
    const where = `blob ${development.blobEndpoint}, queue ${development.queueEndpoint}, table ${development.tableEndpoint}`;
    services.logger.info(
      'Host.Storage',
      development.mode === 'own'
        ? `Started devhost's own Azurite (data: ${development.location}) at ${where}.`
        : `Using the external storage emulator at ${where} (${EMULATOR_MODE_SETTING}=external); devhost neither starts nor stops it.`,
    );
    services.logger.info(
      'Host.Storage',
      `UseDevelopmentStorage=true in ${names.join(', ')} now points at that emulator (an explicit connection string).`,
    );
  }

  async start(services: HostServices): Promise<void> {
    this.#services = services;
    this.#queues = queuesOptionsFrom(services.hostJson);
    this.hostId = hostIdFor(services);
    this.#scanIntervalMs =
      this.options.blobScanIntervalMs ??
      positiveNumber(lookupSetting(services.settings, 'DEVHOST_BLOB_SCAN_INTERVAL_MS')) ??
      1000;

    const storageFunctions = services.registry
      .list()
      .filter((fn) => Object.values(fn.metadata.bindings).some((b) => isStorageBinding(b)));

    // A host that did not run prepare() (or an app that set UseDevelopmentStorage=true while loading).
    await this.prepare(services);

    services.invoker.registerInputProvider('blob', (binding, _fn, request) =>
      this.#blobInput(binding, request),
    );
    services.invoker.registerOutputHandler(
      'blob',
      (binding, value, _fn, _outcome, request?: InvocationRequest) =>
        this.#blobOutput(binding, value, request),
    );
    services.invoker.registerOutputHandler(
      'queue',
      (binding, value, _fn, _outcome, request?: InvocationRequest) =>
        this.#queueOutput(binding, value, request),
    );

    for (const fn of storageFunctions) {
      const [, trigger] = triggerBinding(fn);
      const type = trigger.type.toLowerCase();
      if (type !== 'queuetrigger' && type !== 'blobtrigger') continue;
      try {
        const account = this.#account(connectionOf(trigger));
        if (type === 'queuetrigger') this.#listenToQueue(fn, trigger, account);
        else this.#registerBlobTrigger(fn, trigger, account);
      } catch (err) {
        const reason = (err as Error).message;
        services.invoker.disable(fn.metadata.name, reason);
        services.logger.error('Host.Startup', `Function '${fn.metadata.name}' cannot listen: ${reason}`);
      }
    }
    for (const account of this.#accounts.values()) {
      if (account.blobTriggers.size > 0) this.#prepareBlobTriggers(account);
    }
  }

  /** Queue polling and blob scans start once every extension is ready (a trigger may use any binding). */
  async listen(): Promise<void> {
    this.#running = true;
    for (const account of this.#accounts.values()) {
      for (const listeners of account.queueListeners.values()) for (const l of listeners) l.start();
      if (account.blobTriggerQueue) {
        account.blobTriggerQueue.start();
        account.scanLoop = this.#scanLoop(account);
      }
    }
  }

  async stopListening(): Promise<void> {
    this.#running = false;
    const stops: Promise<void>[] = [];
    for (const account of this.#accounts.values()) {
      account.scanWake?.();
      if (account.scanLoop) stops.push(account.scanLoop);
      for (const listeners of account.queueListeners.values()) stops.push(...listeners.map((l) => l.stop()));
      if (account.blobTriggerQueue) stops.push(account.blobTriggerQueue.stop());
    }
    await Promise.allSettled(stops);
  }

  async stop(): Promise<void> {
    await this.stopListening();
    this.#accounts.clear();
    const development = this.#development;
    this.#development = undefined;
    if (development) {
      await development.stop();
      if (development.mode === 'own')
        this.#services?.logger.info('Host.Storage', "Stopped devhost's own Azurite.");
    }
  }

  /** The emulator (each service answers a request) and every other account a binding uses. */
  async health(): Promise<HealthCheck[]> {
    const checks: HealthCheck[] = [];
    const development = this.#development;
    if (development) {
      const clients = createClients(
        { kind: 'development', setting: '' },
        development.connectionString,
        PROBE_OPTIONS,
      );
      const problems: string[] = [];
      await Promise.all([
        clients.blob
          .getProperties()
          .catch((err: unknown) => problems.push(`blob: ${describeStorageError(err)}`)),
        clients.queue
          .getProperties()
          .catch((err: unknown) => problems.push(`queue: ${describeStorageError(err)}`)),
        isListening(Number(new URL(development.tableEndpoint).port)).then((up) => {
          if (!up) problems.push(`table: nothing listens at ${development.tableEndpoint}`);
        }),
      ]);
      const what =
        development.mode === 'own'
          ? `devhost's own Azurite (data: ${development.location})`
          : 'the external storage emulator';
      checks.push({
        name: 'storage emulator',
        ok: problems.length === 0,
        // prepare() sets both together
        data: { ...this.azurite },
        detail:
          problems.length === 0
            ? `${what} answers at ${development.blobEndpoint}`
            : `${what} at ${development.blobEndpoint} fails: ${problems.join('; ')}`,
      });
    }
    for (const account of this.#accounts.values()) {
      if (account.clients.development || account.clients.key === `cs:${development?.connectionString}`)
        continue;
      const spec = safe(() => resolveConnection(account.clients.setting, this.#services?.settings ?? {}));
      if (!spec) continue;
      const probe = createClients(spec, '', PROBE_OPTIONS);
      const problem = await probe.blob.getProperties().then(
        () => undefined,
        (err: unknown) => describeStorageError(err),
      );
      checks.push({
        name: `storage account (${account.clients.setting})`,
        ok: problem === undefined,
        detail: problem ?? `answers at ${probe.blob.url}`,
      });
    }
    return checks;
  }

  describe(fn: RegisteredFunction): Record<string, unknown> {
    const [, trigger] = triggerBinding(fn);
    const settings = this.#services?.settings ?? {};
    const spec = safe(() => resolveConnection(connectionOf(trigger), settings));
    return {
      connection: spec?.setting,
      account:
        spec?.kind === 'development' ||
        (spec?.kind === 'connectionString' && spec.value === this.azurite?.connectionString)
          ? (this.azurite?.blobEndpoint ?? 'azurite')
          : spec?.kind,
      ...(trigger.type.toLowerCase() === 'queuetrigger'
        ? { queueName: safe(() => resolveAppSettings(settingText(trigger.queueName), settings)) }
        : { path: safe(() => resolveAppSettings(settingText(trigger.path), settings)) }),
    };
  }

  /** Admin invoke: a queue trigger gets `input` as its message, a blob trigger the blob at path `input`. */
  async invokeFromAdmin(fn: RegisteredFunction, input: unknown): Promise<void> {
    const [, trigger] = triggerBinding(fn);
    const account = this.#account(connectionOf(trigger));
    if (trigger.type.toLowerCase() === 'queuetrigger') {
      const now = new Date();
      const text = typeof input === 'string' ? input : JSON.stringify(input ?? null);
      await this.#invokeQueueTrigger(fn, {
        messageId: randomUUID(),
        popReceipt: '',
        dequeueCount: 1,
        insertedOn: now,
        expiresOn: new Date(now.getTime() + 7 * 86_400_000),
        nextVisibleOn: now,
        messageText: this.#encode(Buffer.from(text, 'utf8')),
      });
      return;
    }
    const { container, blob } = splitBlobPath(String(input));
    const registration = [...account.blobTriggers.values()].find((r) => r.fn === fn);
    if (!registration) throw new Error(`Function '${fn.metadata.name}' is not listening.`);
    const properties = await account.clients.blob
      .getContainerClient(container)
      .getBlobClient(blob)
      .getProperties();
    await this.#invokeBlobTrigger(
      account,
      registration,
      container,
      blob,
      normalizeETag(properties.etag ?? ''),
    );
  }

  // ---- accounts ------------------------------------------------------------------------------

  #account(connection: string | undefined): Account {
    const services = this.#services!;
    const spec = resolveConnection(connection, services.settings);
    if (spec.kind === 'development' && !this.#development) {
      throw new Error(
        `'${spec.setting}' is UseDevelopmentStorage=true but the storage emulator is not running.`,
      );
    }
    const clients = createClients(spec, this.#development?.connectionString ?? '');
    let account = this.#accounts.get(clients.key);
    if (!account) {
      account = { clients, queueListeners: new Map(), blobTriggers: new Map(), enqueued: new Map() };
      this.#accounts.set(clients.key, account);
    }
    return account;
  }

  #log(level: 'info' | 'warn' | 'error' | 'debug', category: string, message: string): void {
    this.#services?.logger[level](category, message);
  }

  #queueListener(
    account: Account,
    queue: QueueClient,
    handler: (m: ReceivedQueueMessage) => Promise<boolean>,
  ) {
    const poisonName = queue.name === BLOB_TRIGGER_POISON_QUEUE ? undefined : poisonQueueName(queue.name);
    const category = `Host.Storage.Queue.${queue.name}`;
    return new QueueListener(
      queue,
      poisonName ? account.clients.queue.getQueueClient(poisonName) : undefined,
      this.#queues!,
      handler,
      {
        warn: (m) => this.#log('warn', category, m),
        error: (m) => this.#log('error', category, m),
        debug: (m) => this.#log('debug', category, m),
      },
    );
  }

  #addListener(account: Account, listener: QueueListener): void {
    const list = account.queueListeners.get(listener.queue.name) ?? [];
    list.push(listener);
    account.queueListeners.set(listener.queue.name, list);
  }

  /** devhost wrote to `queueName`: its listeners poll now (the extension's shared queue watcher). */
  #notifyQueue(account: Account, queueName: string): void {
    for (const listener of account.queueListeners.get(queueName) ?? []) listener.notify();
  }

  // ---- queue triggers ------------------------------------------------------------------------

  #listenToQueue(fn: RegisteredFunction, trigger: BindingInfo, account: Account): void {
    const queueName = resolveAppSettings(settingText(trigger.queueName), this.#services!.settings);
    if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(queueName)) {
      throw new Error(
        `Invalid queue name: '${queueName}'. A queue name must be 3-63 lower-case letters, digits or dashes.`,
      );
    }
    const queue = account.clients.queue.getQueueClient(queueName);
    this.#addListener(
      account,
      this.#queueListener(account, queue, (message) => this.#invokeQueueTrigger(fn, message)),
    );
  }

  async #invokeQueueTrigger(fn: RegisteredFunction, message: ReceivedQueueMessage): Promise<boolean> {
    const body = this.#decode(message.messageText);
    if (!body) {
      this.#log(
        'error',
        `Function.${fn.metadata.name}`,
        `Message '${message.messageId}' is not valid base64; check host.json extensions.queues.messageEncoding.`,
      );
      return false;
    }
    const text = utf8OrUndefined(body);
    const triggerMetadata: Record<string, TypedData> = {
      DequeueCount: { json: String(message.dequeueCount) },
      ExpirationTime: { string: dotnetDate(message.expiresOn) },
      Id: { string: message.messageId },
      InsertionTime: { string: dotnetDate(message.insertedOn) },
      NextVisibleTime: { string: dotnetDate(message.nextVisibleOn) },
      PopReceipt: { string: message.popReceipt },
    };
    if (text !== undefined) triggerMetadata.QueueTrigger = { string: text };
    const outcome = await this.#services!.invoker.invoke({
      functionName: fn.metadata.name,
      triggerData: text !== undefined ? { string: text } : { bytes: body },
      triggerMetadata,
    });
    return !outcome.error;
  }

  #decode(messageText: string): Buffer | undefined {
    if (this.#queues!.messageEncoding === 'none') return Buffer.from(messageText, 'utf8');
    const compact = messageText.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) return undefined;
    return Buffer.from(compact, 'base64');
  }

  #encode(body: Buffer): string {
    return this.#queues!.messageEncoding === 'none' ? body.toString('utf8') : body.toString('base64');
  }

  // ---- blob triggers -------------------------------------------------------------------------

  #registerBlobTrigger(fn: RegisteredFunction, trigger: BindingInfo, account: Account): void {
    const blobPath = resolveAppSettings(settingText(trigger.path), this.#services!.settings).replace(
      /^\/+/,
      '',
    );
    const container = blobPath.split('/')[0] ?? '';
    if (!container || /[{}]/.test(container)) {
      throw new Error(`Invalid blob trigger path '${blobPath}': the container name must be literal.`);
    }
    const functionId = `Host.Functions.${fn.metadata.name}`;
    account.blobTriggers.set(functionId, { fn, functionId, path: blobPath, container });
  }

  #prepareBlobTriggers(account: Account): void {
    const queue = account.clients.queue.getQueueClient(`azure-webjobs-blobtrigger-${this.hostId}`);
    const listener = new QueueListener(
      queue,
      account.clients.queue.getQueueClient(BLOB_TRIGGER_POISON_QUEUE),
      this.#queues!,
      (message) => this.#processBlobTriggerMessage(account, message),
      {
        warn: (m) => this.#log('warn', 'Host.Storage.BlobTrigger', m),
        error: (m) => this.#log('error', 'Host.Storage.BlobTrigger', m),
        debug: (m) => this.#log('debug', 'Host.Storage.BlobTrigger', m),
      },
    );
    account.blobTriggerQueue = listener;
  }

  async #scanLoop(account: Account): Promise<void> {
    let lastError = '';
    while (this.#running) {
      try {
        await this.#scan(account);
        lastError = '';
      } catch (err) {
        const text = describeStorageError(err);
        if (text !== lastError)
          this.#log('warn', 'Host.Storage.BlobTrigger', `Scanning blob containers failed: ${text}`);
        lastError = text;
      }
      if (!this.#running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#scanIntervalMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        account.scanWake = done;
      });
    }
  }

  /** Lists each watched container and hands every new blob version to the blob trigger queue. */
  async #scan(account: Account): Promise<void> {
    const byContainer = new Map<string, BlobTriggerRegistration[]>();
    for (const r of account.blobTriggers.values()) {
      byContainer.set(r.container, [...(byContainer.get(r.container) ?? []), r]);
    }
    let enqueued = false;
    for (const [containerName, registrations] of byContainer) {
      const container = account.clients.blob.getContainerClient(containerName);
      try {
        for await (const item of container.listBlobsFlat()) {
          if (!this.#running) return;
          const etag = normalizeETag(item.properties.etag ?? '');
          for (const r of registrations) {
            if (!matchBlobPath(r.path, `${containerName}/${item.name}`)) continue;
            const key = `${r.functionId}\n${containerName}/${item.name}`;
            if (account.enqueued.get(key) === etag) continue;
            const blobType = String(item.properties.blobType ?? 'BlockBlob');
            if (await this.#enqueueBlob(account, r, containerName, item.name, etag, blobType)) {
              account.enqueued.set(key, etag);
              enqueued = true;
            }
          }
        }
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
    }
    if (enqueued) account.blobTriggerQueue?.notify();
  }

  /**
   * The receipt protocol of the storage extension: create `blobreceipts/<hostId>/<functionId>/
   * <etag>/<container>/<blob>` marked Incomplete unless it exists, lease it, enqueue the trigger
   * message, mark it complete. A completed receipt means "this version was handed over already".
   */
  async #enqueueBlob(
    account: Account,
    r: BlobTriggerRegistration,
    container: string,
    blobName: string,
    etag: string,
    blobType: string,
  ): Promise<boolean> {
    const hosts = account.clients.blob.getContainerClient(HOSTS_CONTAINER);
    const receipt = hosts.getBlockBlobClient(
      `blobreceipts/${this.hostId}/${r.functionId}/${etag}/${container}/${blobName}`,
    );
    const readReceipt = async (): Promise<'complete' | 'incomplete' | 'missing'> => {
      try {
        const props = await receipt.getProperties();
        const incomplete = Object.keys(props.metadata ?? {}).some((k) => k.toLowerCase() === 'incomplete');
        return incomplete ? 'incomplete' : 'complete';
      } catch (err) {
        if (statusOf(err) === 404) return 'missing';
        throw err;
      }
    };
    const state = await readReceipt();
    if (state === 'complete') return true;
    if (state === 'missing') {
      const create = () =>
        receipt.upload('', 0, { conditions: { ifNoneMatch: '*' }, metadata: { Incomplete: 'Incomplete' } });
      try {
        await create();
      } catch (err) {
        const status = statusOf(err);
        if (status === 404) {
          await hosts.createIfNotExists();
          try {
            await create();
          } catch (again) {
            if (statusOf(again) === 409 || statusOf(again) === 412) return false;
            throw again;
          }
        } else if (status === 409 || status === 412) {
          return false; // someone else just created it; look again on the next scan
        } else {
          throw err;
        }
      }
    }
    const lease = receipt.getBlobLeaseClient();
    try {
      await lease.acquireLease(30);
    } catch (err) {
      if (statusOf(err) === 409 || statusOf(err) === 404) return false;
      throw err;
    }
    try {
      if ((await readReceipt()) === 'complete') return true;
      const message: BlobTriggerMessage = {
        Type: 'BlobTrigger',
        FunctionId: r.functionId,
        BlobType: blobType,
        ContainerName: container,
        BlobName: blobName,
        ETag: etag,
      };
      const queue = account.blobTriggerQueue!.queue;
      await queue.createIfNotExists();
      await queue.sendMessage(this.#encode(Buffer.from(JSON.stringify(message), 'utf8')));
      await receipt.setMetadata({}, { conditions: { leaseId: lease.leaseId } });
      return true;
    } finally {
      await lease.releaseLease().catch(() => undefined);
    }
  }

  async #processBlobTriggerMessage(account: Account, message: ReceivedQueueMessage): Promise<boolean> {
    const body = this.#decode(message.messageText);
    let parsed: BlobTriggerMessage;
    try {
      parsed = JSON.parse(body?.toString('utf8') ?? '') as BlobTriggerMessage;
    } catch {
      throw new Error('Invalid blob trigger message.');
    }
    const registration = account.blobTriggers.get(parsed.FunctionId);
    if (!registration) {
      this.#log(
        'warn',
        'Host.Storage.BlobTrigger',
        `Function '${parsed.FunctionId}' for blob '${parsed.BlobName}' is not registered here; message ${message.messageId} dropped.`,
      );
      return true;
    }
    return this.#invokeBlobTrigger(account, registration, parsed.ContainerName, parsed.BlobName, parsed.ETag);
  }

  async #invokeBlobTrigger(
    account: Account,
    r: BlobTriggerRegistration,
    container: string,
    blobName: string,
    etag: string,
  ): Promise<boolean> {
    const blob = account.clients.blob.getContainerClient(container).getBlobClient(blobName);
    let content: Buffer;
    let properties: Awaited<ReturnType<typeof blob.getProperties>>;
    try {
      properties = await blob.getProperties();
      if (normalizeETag(properties.etag ?? '') !== etag) {
        account.scanWake?.(); // a newer version exists; the scan hands that one over
        return true;
      }
      content = await blob.downloadToBuffer(0, undefined, { conditions: { ifMatch: etag } });
    } catch (err) {
      const status = statusOf(err);
      if (status === 404 || status === 412) {
        account.scanWake?.();
        return true; // gone or changed meanwhile: nothing to do for this version
      }
      throw err;
    }
    const captures = matchBlobPath(r.path, `${container}/${blobName}`) ?? {};
    const triggerMetadata: Record<string, TypedData> = {
      BlobTrigger: { string: `${container}/${blobName}` },
      Uri: { string: blob.url },
      Properties: { json: JSON.stringify(blobPropertiesJson(properties)) },
      Metadata: { json: JSON.stringify(properties.metadata ?? {}) },
    };
    for (const [name, value] of Object.entries(captures)) triggerMetadata[name] = { string: value };
    const outcome = await this.#services!.invoker.invoke({
      functionName: r.fn.metadata.name,
      triggerData: { bytes: content },
      triggerMetadata,
    });
    return !outcome.error;
  }

  // ---- input and output bindings -------------------------------------------------------------

  #resolvePath(binding: BindingInfo, setting: 'path' | 'queueName', request: InvocationRequest | undefined) {
    const template = resolveAppSettings(settingText(binding[setting]), this.#services!.settings);
    return resolveTemplate(template, bindingDataOf(request), new Date(this.#services!.clock.now()));
  }

  async #blobInput(binding: BindingInfo, request: InvocationRequest): Promise<TypedData | undefined> {
    const { container, blob } = splitBlobPath(this.#resolvePath(binding, 'path', request));
    const client = this.#blobService(binding).getContainerClient(container).getBlobClient(blob);
    try {
      const content = await client.downloadToBuffer();
      return binding.dataType === 'string' ? { string: content.toString('utf8') } : { bytes: content };
    } catch (err) {
      if (statusOf(err) === 404) return undefined; // a missing blob binds as nothing, as in Azure
      throw new StorageRequestError(`Blob input '${container}/${blob}'`, err);
    }
  }

  async #blobOutput(binding: BindingInfo, value: TypedData, request: InvocationRequest | undefined) {
    const content = typedDataToBuffer(value);
    if (content === undefined) return;
    const { container, blob } = splitBlobPath(this.#resolvePath(binding, 'path', request));
    const account = this.#account(connectionOf(binding));
    const containerClient = account.clients.blob.getContainerClient(container);
    try {
      await containerClient.createIfNotExists();
      await containerClient.getBlockBlobClient(blob).uploadData(content);
    } catch (err) {
      throw new StorageRequestError(`Blob output '${container}/${blob}'`, err);
    }
    // The blob-written watcher of the storage extension: triggers on this container look now.
    if ([...account.blobTriggers.values()].some((r) => r.container === container)) account.scanWake?.();
  }

  async #queueOutput(binding: BindingInfo, value: TypedData, request: InvocationRequest | undefined) {
    const messages = typedDataToMessages(value);
    if (messages.length === 0) return;
    const queueName = this.#resolvePath(binding, 'queueName', request);
    const account = this.#account(connectionOf(binding));
    const queue = account.clients.queue.getQueueClient(queueName);
    try {
      await queue.createIfNotExists();
      for (const message of messages) await queue.sendMessage(this.#encode(message));
    } catch (err) {
      throw new StorageRequestError(`Queue output '${queueName}'`, err);
    }
    this.#notifyQueue(account, queueName);
  }

  #blobService(binding: BindingInfo): BlobServiceClient {
    return this.#account(connectionOf(binding)).clients.blob;
  }
}

export function storageExtension(options?: StorageExtensionOptions): StorageExtension {
  return new StorageExtension(options);
}

function isStorageBinding(binding: BindingInfo): boolean {
  const type = binding.type.toLowerCase();
  return type === 'blobtrigger' || type === 'queuetrigger' || type === 'blob' || type === 'queue';
}

function connectionOf(binding: BindingInfo): string | undefined {
  return typeof binding.connection === 'string' ? binding.connection : undefined;
}

function settingText(value: unknown): string {
  return typeof value === 'string' ? value : value == null ? '' : JSON.stringify(value);
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

function positiveNumber(value: string | undefined): number | undefined {
  const n = Number(value);
  return value !== undefined && Number.isFinite(n) && n > 0 ? n : undefined;
}

/**
 * The host id names the blob trigger queue and the receipt folder. Azure takes it from
 * `AzureFunctionsJobHost__id` / `AzureFunctionsWebHost__hostid` or derives it from the site or
 * machine name; devhost adds a hash of the app directory to the machine name, so two apps on
 * one machine sharing one Azurite do not take each other's blob trigger messages.
 */
function hostIdFor(services: HostServices): string {
  const configured =
    lookupSetting(services.settings, 'AzureFunctionsJobHost__id') ??
    lookupSetting(services.settings, 'AzureFunctionsWebHost__hostid') ??
    (typeof services.hostJson.id === 'string' ? services.hostJson.id : undefined);
  const sanitize = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '')
      .replace(/^-+/, '');
  if (configured) return sanitize(configured).slice(0, 32).replace(/-+$/, '') || 'devhost';
  const hash = createHash('sha256').update(path.resolve(services.appDir)).digest('hex').slice(0, 8);
  const machine = sanitize(os.hostname()).slice(0, 23).replace(/-+$/, '') || 'devhost';
  return `${machine}-${hash}`;
}

/** The storage service returns ETags quoted in headers and bare in listings; receipts use the quoted form. */
function normalizeETag(etag: string): string {
  const bare = etag.replace(/^W\//, '').replace(/^"|"$/g, '');
  return `"${bare}"`;
}

/** A DateTimeOffset as .NET's JSON serializer writes it. */
function dotnetDate(date: Date | undefined): string {
  if (!date) return '';
  return date
    .toISOString()
    .replace(/\.000Z$/, 'Z')
    .replace(/Z$/, '+00:00');
}

function utf8OrUndefined(body: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return undefined;
  }
}

/** BlobProperties as the .NET SDK names them (the Node library camel-cases the keys). */
function blobPropertiesJson(p: {
  lastModified?: Date;
  createdOn?: Date;
  contentLength?: number;
  contentType?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  contentDisposition?: string;
  cacheControl?: string;
  contentMD5?: Uint8Array;
  etag?: string;
  blobType?: string;
  leaseState?: string;
  leaseStatus?: string;
  accessTier?: string;
  isServerEncrypted?: boolean;
}): Record<string, unknown> {
  return {
    LastModified: dotnetDate(p.lastModified),
    CreatedOn: dotnetDate(p.createdOn),
    ContentLength: p.contentLength ?? 0,
    ContentType: p.contentType ?? null,
    ContentEncoding: p.contentEncoding ?? null,
    ContentLanguage: p.contentLanguage ?? null,
    ContentDisposition: p.contentDisposition ?? null,
    CacheControl: p.cacheControl ?? null,
    ContentHash: p.contentMD5 ? Buffer.from(p.contentMD5).toString('base64') : null,
    ETag: p.etag ?? null,
    BlobType: (p.blobType ?? 'BlockBlob').replace(/Blob$/, ''),
    LeaseState: p.leaseState ?? null,
    LeaseStatus: p.leaseStatus ?? null,
    AccessTier: p.accessTier ?? null,
    IsServerEncrypted: p.isServerEncrypted ?? false,
  };
}

/** What the function set on a blob output, as bytes; undefined/null writes nothing. */
function typedDataToBuffer(value: TypedData): Buffer | undefined {
  if (value.bytes != null) return Buffer.from(value.bytes);
  if (value.stream != null) return Buffer.from(value.stream);
  if (value.string != null) return Buffer.from(value.string, 'utf8');
  if (value.json != null) return value.json === 'null' ? undefined : Buffer.from(value.json, 'utf8');
  if (value.int != null) return Buffer.from(String(value.int), 'utf8');
  if (value.double != null) return Buffer.from(String(value.double), 'utf8');
  if (value.collectionString != null)
    return Buffer.from(JSON.stringify(value.collectionString.string), 'utf8');
  return undefined;
}

/** A queue output value: one message, or one per element when the function set an array. */
function typedDataToMessages(value: TypedData): Buffer[] {
  const one = (item: unknown): Buffer =>
    Buffer.isBuffer(item)
      ? item
      : Buffer.from(typeof item === 'string' ? item : JSON.stringify(item), 'utf8');
  if (value.bytes != null) return [Buffer.from(value.bytes)];
  if (value.string != null) return [Buffer.from(value.string, 'utf8')];
  if (value.int != null || value.double != null) return [one(String(value.int ?? value.double))];
  if (value.collectionString != null) return value.collectionString.string.map(one);
  if (value.collectionBytes != null) return value.collectionBytes.bytes.map((b) => Buffer.from(b));
  if (value.json != null) {
    const parsed = JSON.parse(value.json) as unknown;
    if (parsed === null) return [];
    return Array.isArray(parsed) ? parsed.map(one) : [one(parsed)];
  }
  return [];
}

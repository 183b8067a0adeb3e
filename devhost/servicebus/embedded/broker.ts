import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Clock } from '../../clock';
import { ServiceBusBrokerError } from '../errors';
import type {
  BrokeredMessage,
  BrokerPort,
  BrokerReceiver,
  DeadLetterOptions,
  MessageProperties,
  OutgoingMessage,
  PeekOptions,
  ReceiveSource,
} from '../port';
import { sourcePath } from '../port';
import type { EntityOptions } from '../settings';
import { DEFAULT_ENTITY_OPTIONS } from '../settings';

type EntityKind = 'queue' | 'topic' | 'subscription';

interface EntityRow {
  key: string;
  name: string;
  kind: EntityKind;
  topic: string | null;
  requires_session: number;
  options: string;
}

interface Entity {
  key: string;
  name: string;
  kind: EntityKind;
  /** Key of the topic, for a subscription. */
  topic: string | undefined;
  requiresSession: boolean;
  options: EntityOptions;
}

interface MessageRow {
  seq: number;
  entity: string;
  state: number;
  session_id: string | null;
  message_id: string;
  body: Buffer;
  props: string;
  enqueued_at: number;
  visible_at: number;
  expires_at: number | null;
  delivery_count: number;
  locked_until: number;
  lock_token: string | null;
  dl_reason: string | null;
  dl_description: string | null;
  dl_source: string | null;
}

/** Properties kept as one JSON column (message and session ids have columns of their own). */
interface StoredProps extends Omit<MessageProperties, 'messageId' | 'sessionId'> {
  applicationProperties?: Record<string, unknown>;
}

const ACTIVE = 0;
const DEAD_LETTERED = 1;

/** What an entity holds right now (admin `depth`). */
export interface EntityDepth {
  path: string;
  kind: EntityKind;
  requiresSession: boolean;
  active: number;
  scheduled: number;
  locked: number;
  deadLettered: number;
}

export interface EmbeddedBrokerOptions {
  /** A SQLite file path, or ':memory:'. */
  file: string;
  clock: Clock;
  /** Entity options for entities created without their own. */
  defaults?: Partial<EntityOptions>;
}

interface Waiter {
  wake: () => void;
}

/**
 * A single-process Service Bus broker on SQLite: queues, topics with subscriptions, peek-lock,
 * sessions, duplicate detection, scheduling, TTL and dead-lettering. Every state change is one
 * synchronous SQLite transaction (WAL), so a killed process loses nothing: on the next start
 * the locks it held are treated as expired and their messages come back.
 *
 * Receivers wait on in-process notifications, not polling: a send, an abandon or a lock that
 * falls due wakes exactly the receivers of that entity.
 */
export class EmbeddedBroker implements BrokerPort {
  readonly kind = 'embedded' as const;
  readonly #db: Database.Database;
  readonly #clock: Clock;
  readonly #defaults: EntityOptions;
  readonly #entities = new Map<string, Entity>();
  readonly #waiters = new Map<string, Set<Waiter>>();
  readonly #timers = new Map<string, { at: number; cancel: () => void }>();
  readonly #receivers = new Set<EmbeddedReceiver>();
  #closed = false;
  #housekeepings = 0;

  constructor(options: EmbeddedBrokerOptions) {
    this.#clock = options.clock;
    this.#defaults = { ...DEFAULT_ENTITY_OPTIONS, ...options.defaults };
    if (options.file !== ':memory:') mkdirSync(path.dirname(options.file), { recursive: true });
    this.#db = new Database(options.file);
    this.#db.pragma('journal_mode = WAL');
    // NORMAL is durable against a killed process (the WAL is in the OS cache); only a power cut could lose the tail.
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.exec(SCHEMA);
    for (const row of this.#db.prepare('SELECT * FROM sb_entities').all() as EntityRow[]) {
      this.#entities.set(row.key, fromEntityRow(row));
    }
    this.#recoverAfterRestart();
  }

  // ---------------------------------------------------------------------------------------------
  // Entities

  /** Creates the queue, or updates its options. Sessions cannot be switched on an existing queue (as in Azure). */
  ensureQueue(
    name: string,
    options: { requiresSession?: boolean; entity?: Partial<EntityOptions> } = {},
  ): void {
    this.#ensure(name, 'queue', undefined, options);
  }

  ensureTopic(name: string): void {
    this.#ensure(name, 'topic', undefined, {});
  }

  ensureSubscription(
    topic: string,
    subscription: string,
    options: { requiresSession?: boolean; entity?: Partial<EntityOptions> } = {},
  ): void {
    this.ensureTopic(topic);
    this.#ensure(`${topic}/Subscriptions/${subscription}`, 'subscription', topic.toLowerCase(), options);
  }

  entity(pathOrName: string): Entity | undefined {
    return this.#entities.get(pathOrName.toLowerCase());
  }

  listEntities(): Entity[] {
    return [...this.#entities.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  #ensure(
    name: string,
    kind: EntityKind,
    topic: string | undefined,
    options: { requiresSession?: boolean; entity?: Partial<EntityOptions> },
  ): void {
    const key = name.toLowerCase();
    const existing = this.#entities.get(key);
    const requiresSession = options.requiresSession ?? existing?.requiresSession ?? false;
    if (existing && existing.kind !== kind) {
      throw new ServiceBusBrokerError(
        'MessagingEntityAlreadyExists',
        `"${name}" already exists as a ${existing.kind}; it cannot also be a ${kind}.`,
      );
    }
    if (existing && options.requiresSession !== undefined && existing.requiresSession !== requiresSession) {
      throw new ServiceBusBrokerError(
        'InvalidOperation',
        `"${name}" exists with requiresSession=${existing.requiresSession}; a binding wants ${requiresSession}. ` +
          'Sessions cannot be switched on an existing entity; purge the broker data or rename the entity.',
      );
    }
    const merged: Entity = {
      key,
      name: existing?.name ?? name,
      kind,
      topic,
      requiresSession,
      options: { ...this.#defaults, ...existing?.options, ...options.entity },
    };
    this.#db
      .prepare(
        `INSERT INTO sb_entities (key, name, kind, topic, requires_session, options) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET options = excluded.options, requires_session = excluded.requires_session`,
      )
      .run(key, merged.name, kind, topic ?? null, requiresSession ? 1 : 0, JSON.stringify(merged.options));
    this.#entities.set(key, merged);
  }

  #source(source: ReceiveSource): Entity {
    const p = sourcePath(source);
    const entity = this.#entities.get(p.toLowerCase());
    if (!entity || entity.kind === 'topic') {
      throw new ServiceBusBrokerError(
        'MessagingEntityNotFound',
        `The messaging entity "${p}" could not be found.`,
      );
    }
    return entity;
  }

  // ---------------------------------------------------------------------------------------------
  // Sending

  async send(entityName: string, messages: OutgoingMessage[]): Promise<void> {
    this.sendSync(entityName, messages);
  }

  /** Sends atomically; returns how many were accepted and how many were dropped as duplicates. */
  sendSync(entityName: string, messages: OutgoingMessage[]): { accepted: number; duplicates: number } {
    this.#assertOpen();
    const target = this.#entities.get(entityName.toLowerCase());
    if (!target || target.kind === 'subscription') {
      throw new ServiceBusBrokerError(
        'MessagingEntityNotFound',
        `The messaging entity "${entityName}" could not be found (send to a queue or a topic).`,
      );
    }
    const destinations =
      target.kind === 'queue'
        ? [target]
        : [...this.#entities.values()].filter((e) => e.kind === 'subscription' && e.topic === target.key);
    const now = this.#clock.now();
    for (const message of messages) {
      if (destinations.some((d) => d.requiresSession) && !message.sessionId) {
        throw new ServiceBusBrokerError(
          'InvalidOperation',
          `"${target.name}" is session-enabled: every message sent to it needs a sessionId.`,
        );
      }
      if (message.timeToLiveMs !== undefined && !(message.timeToLiveMs > 0)) {
        throw new ServiceBusBrokerError('InvalidOperation', 'timeToLive must be positive.');
      }
    }
    let accepted = 0;
    let duplicates = 0;
    const insert = this.#db.prepare(
      `INSERT INTO sb_messages (entity, state, session_id, message_id, body, props, enqueued_at, visible_at, expires_at)
       VALUES (?, ${ACTIVE}, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const seen = this.#db.prepare('SELECT seen_at FROM sb_duplicates WHERE entity = ? AND message_id = ?');
    const remember = this.#db.prepare(
      'INSERT INTO sb_duplicates (entity, message_id, seen_at) VALUES (?, ?, ?) ON CONFLICT(entity, message_id) DO UPDATE SET seen_at = excluded.seen_at',
    );
    const wakes = new Map<string, number>();
    this.#db.transaction(() => {
      for (const message of messages) {
        const messageId = message.messageId ?? randomUUID().replace(/-/g, '');
        const window = target.options.duplicateDetectionWindowMs;
        if (window > 0 && message.messageId !== undefined) {
          const previous = seen.get(target.key, messageId) as { seen_at: number } | undefined;
          if (previous && now - previous.seen_at < window) {
            duplicates += 1;
            continue;
          }
          remember.run(target.key, messageId, now);
        }
        accepted += 1;
        const visibleAt = Math.max(now, message.scheduledEnqueueTimeUtc ?? now);
        const body = typeof message.body === 'string' ? Buffer.from(message.body, 'utf8') : message.body;
        for (const destination of destinations) {
          const ttl = message.timeToLiveMs ?? destination.options.defaultMessageTimeToLiveMs;
          insert.run(
            destination.key,
            message.sessionId ?? null,
            messageId,
            body,
            JSON.stringify(propsOf(message)),
            visibleAt,
            visibleAt,
            ttl === undefined ? null : visibleAt + ttl,
          );
          wakes.set(destination.key, Math.min(wakes.get(destination.key) ?? Infinity, visibleAt));
        }
      }
    })();
    for (const [key, at] of wakes) {
      if (at <= now) this.#notify(key);
      else this.#arm(key, at);
    }
    return { accepted, duplicates };
  }

  // ---------------------------------------------------------------------------------------------
  // Receiving

  createReceiver(source: ReceiveSource): BrokerReceiver {
    const entity = this.#source(source);
    if (entity.requiresSession) {
      throw new ServiceBusBrokerError(
        'InvalidOperation',
        `"${entity.name}" is session-enabled; accept a session to receive from it.`,
      );
    }
    const receiver = new EmbeddedReceiver(this, entity, undefined, undefined);
    this.#receivers.add(receiver);
    return receiver;
  }

  async acceptNextSession(
    source: ReceiveSource,
    maxWaitMs: number,
    signal?: AbortSignal,
  ): Promise<BrokerReceiver | undefined> {
    const entity = this.#source(source);
    if (!entity.requiresSession) {
      throw new ServiceBusBrokerError('InvalidOperation', `"${entity.name}" is not session-enabled.`);
    }
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      this.#assertOpen();
      const sessionId = this.#lockNextSession(entity);
      if (sessionId !== undefined) {
        const receiver = new EmbeddedReceiver(this, entity, sessionId.sessionId, sessionId.token);
        this.#receivers.add(receiver);
        return receiver;
      }
      if (Date.now() >= deadline || signal?.aborted) return undefined;
      await this.waitFor(entity.key, deadline, signal);
    }
  }

  #lockNextSession(entity: Entity): { sessionId: string; token: string } | undefined {
    return this.#db.transaction(() => {
      this.#housekeep(entity);
      const now = this.#clock.now();
      const row = this.#db
        .prepare(
          `SELECT m.session_id AS sessionId FROM sb_messages m
           WHERE m.entity = ? AND m.state = ${ACTIVE} AND m.visible_at <= ? AND m.locked_until <= ?
             AND (m.expires_at IS NULL OR m.expires_at > ?) AND m.session_id IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM sb_sessions s WHERE s.entity = m.entity AND s.session_id = m.session_id AND s.locked_until > ?)
           ORDER BY m.seq LIMIT 1`,
        )
        .get(entity.key, now, now, now, now) as { sessionId: string } | undefined;
      if (!row) return undefined;
      const token = randomUUID();
      const until = now + entity.options.lockDurationMs;
      this.#db
        .prepare(
          `INSERT INTO sb_sessions (entity, session_id, locked_until, lock_token) VALUES (?, ?, ?, ?)
           ON CONFLICT(entity, session_id) DO UPDATE SET locked_until = excluded.locked_until, lock_token = excluded.lock_token`,
        )
        .run(entity.key, row.sessionId, until, token);
      this.#arm(entity.key, until);
      return { sessionId: row.sessionId, token };
    })();
  }

  /** Locks up to `max` available messages (of one session, when `sessionId` is given). */
  lockMessages(
    entity: Entity,
    max: number,
    session: { id: string; token: string } | undefined,
  ): BrokeredMessage[] {
    this.#assertOpen();
    return this.#db.transaction(() => {
      this.#housekeep(entity);
      const now = this.#clock.now();
      if (session) this.#assertSessionLock(entity, session);
      const rows = (
        session
          ? this.#db
              .prepare(
                `SELECT * FROM sb_messages WHERE entity = ? AND state = ${ACTIVE} AND session_id = ? AND visible_at <= ?
                   AND (expires_at IS NULL OR expires_at > ?) ORDER BY seq LIMIT ?`,
              )
              .all(entity.key, session.id, now, now, max)
          : this.#db
              .prepare(
                `SELECT * FROM sb_messages WHERE entity = ? AND state = ${ACTIVE} AND visible_at <= ? AND locked_until <= ?
                   AND (expires_at IS NULL OR expires_at > ?) ORDER BY seq LIMIT ?`,
              )
              .all(entity.key, now, now, now, max)
      ) as MessageRow[];
      // Within a session, FIFO means stopping at the first message still locked by an earlier delivery.
      const available: MessageRow[] = [];
      for (const row of rows) {
        if (row.locked_until > now) break;
        available.push(row);
      }
      const until = now + entity.options.lockDurationMs;
      const lock = this.#db.prepare(
        'UPDATE sb_messages SET delivery_count = delivery_count + 1, locked_until = ?, lock_token = ? WHERE seq = ?',
      );
      const out: BrokeredMessage[] = [];
      for (const row of available) {
        const token = randomUUID();
        lock.run(until, token, row.seq);
        out.push(
          toBrokered(
            { ...row, delivery_count: row.delivery_count + 1, locked_until: until, lock_token: token },
            now,
          ),
        );
      }
      if (out.length > 0) this.#arm(entity.key, until);
      return out;
    })();
  }

  settle(
    entity: Entity,
    message: BrokeredMessage,
    session: { id: string; token: string } | undefined,
    action:
      | { kind: 'complete' }
      | { kind: 'abandon' }
      | { kind: 'release' }
      | { kind: 'deadLetter'; options: DeadLetterOptions },
  ): void {
    this.#assertOpen();
    let wake = false;
    this.#db.transaction(() => {
      const now = this.#clock.now();
      const row = this.#db
        .prepare(`SELECT * FROM sb_messages WHERE seq = ? AND entity = ? AND state = ${ACTIVE}`)
        .get(message.sequenceNumber, entity.key) as MessageRow | undefined;
      if (session) this.#assertSessionLock(entity, session);
      if (!row || row.lock_token !== message.lockToken || (!session && row.locked_until <= now)) {
        throw new ServiceBusBrokerError(
          'MessageLockLost',
          `The lock on message ${message.messageId} (sequence ${message.sequenceNumber}) was lost; it may be delivered again.`,
        );
      }
      if (action.kind === 'complete') {
        this.#db.prepare('DELETE FROM sb_messages WHERE seq = ?').run(row.seq);
      } else if (action.kind === 'deadLetter') {
        this.#deadLetter(row.seq, action.options.reason, action.options.description);
      } else if (action.kind === 'release') {
        this.#db
          .prepare(
            'UPDATE sb_messages SET delivery_count = MAX(delivery_count - 1, 0), locked_until = 0, lock_token = NULL WHERE seq = ?',
          )
          .run(row.seq);
        wake = true;
      } else if (row.delivery_count >= entity.options.maxDeliveryCount) {
        this.#deadLetter(
          row.seq,
          'MaxDeliveryCountExceeded',
          `Message could not be consumed after ${entity.options.maxDeliveryCount} delivery attempts.`,
        );
      } else {
        this.#db
          .prepare('UPDATE sb_messages SET locked_until = 0, lock_token = NULL WHERE seq = ?')
          .run(row.seq);
        wake = true;
      }
    })();
    if (wake) this.#notify(entity.key);
  }

  renewLock(
    entity: Entity,
    message: BrokeredMessage,
    session: { id: string; token: string } | undefined,
  ): number {
    this.#assertOpen();
    return this.#db.transaction(() => {
      const now = this.#clock.now();
      const until = now + entity.options.lockDurationMs;
      if (session) {
        this.#assertSessionLock(entity, session);
        this.#db
          .prepare('UPDATE sb_sessions SET locked_until = ? WHERE entity = ? AND session_id = ?')
          .run(until, entity.key, session.id);
      }
      const changed = this.#db
        .prepare(
          `UPDATE sb_messages SET locked_until = ? WHERE seq = ? AND lock_token = ? AND state = ${ACTIVE} AND locked_until > ?`,
        )
        .run(until, message.sequenceNumber, message.lockToken ?? '', now).changes;
      if (changed === 0) {
        throw new ServiceBusBrokerError(
          'MessageLockLost',
          `The lock on message ${message.messageId} was lost.`,
        );
      }
      this.#arm(entity.key, until);
      return until;
    })();
  }

  /** Lets a session go; its locked, unsettled messages return at once (Azure: on session close). */
  releaseSession(entity: Entity, session: { id: string; token: string }): void {
    if (this.#closed) return;
    this.#db.transaction(() => {
      const held = this.#db
        .prepare('SELECT lock_token FROM sb_sessions WHERE entity = ? AND session_id = ?')
        .get(entity.key, session.id) as { lock_token: string } | undefined;
      if (held?.lock_token !== session.token) return;
      this.#db
        .prepare('DELETE FROM sb_sessions WHERE entity = ? AND session_id = ?')
        .run(entity.key, session.id);
      // Returned messages count as a failed delivery, so housekeeping applies maxDeliveryCount to them.
      this.#db
        .prepare(
          `UPDATE sb_messages SET locked_until = 1, lock_token = NULL
           WHERE entity = ? AND session_id = ? AND state = ${ACTIVE} AND locked_until > 1`,
        )
        .run(entity.key, session.id);
    })();
    this.#notify(entity.key);
  }

  #assertSessionLock(entity: Entity, session: { id: string; token: string }): void {
    const held = this.#db
      .prepare('SELECT locked_until, lock_token FROM sb_sessions WHERE entity = ? AND session_id = ?')
      .get(entity.key, session.id) as { locked_until: number; lock_token: string } | undefined;
    if (!held || held.lock_token !== session.token || held.locked_until <= this.#clock.now()) {
      throw new ServiceBusBrokerError(
        'SessionLockLost',
        `The lock on session "${session.id}" of "${entity.name}" was lost; another receiver may hold it now.`,
      );
    }
  }

  /**
   * Applies what time did: expired locks past maxDeliveryCount and expired messages go to the
   * dead-letter queue (or away), and session locks that lapsed return their messages.
   */
  #housekeep(entity: Entity): void {
    const now = this.#clock.now();
    const o = entity.options;
    const lapsedSessions = this.#db
      .prepare('SELECT session_id, lock_token FROM sb_sessions WHERE entity = ? AND locked_until <= ?')
      .all(entity.key, now) as { session_id: string; lock_token: string }[];
    for (const s of lapsedSessions) {
      this.#db
        .prepare('DELETE FROM sb_sessions WHERE entity = ? AND session_id = ? AND lock_token = ?')
        .run(entity.key, s.session_id, s.lock_token);
      this.#db
        .prepare(
          `UPDATE sb_messages SET locked_until = 1, lock_token = NULL
           WHERE entity = ? AND session_id = ? AND state = ${ACTIVE} AND locked_until > 1`,
        )
        .run(entity.key, s.session_id);
    }
    const exhausted = this.#db
      .prepare(
        `SELECT seq FROM sb_messages WHERE entity = ? AND state = ${ACTIVE} AND locked_until > 0 AND locked_until <= ?
           AND delivery_count >= ?`,
      )
      .all(entity.key, now, o.maxDeliveryCount) as { seq: number }[];
    for (const { seq } of exhausted) {
      this.#deadLetter(
        seq,
        'MaxDeliveryCountExceeded',
        `Message could not be consumed after ${o.maxDeliveryCount} delivery attempts.`,
      );
    }
    const expired = this.#db
      .prepare(
        `SELECT seq FROM sb_messages WHERE entity = ? AND state = ${ACTIVE} AND expires_at IS NOT NULL AND expires_at <= ?
           AND locked_until <= ?`,
      )
      .all(entity.key, now, now) as { seq: number }[];
    for (const { seq } of expired) {
      if (o.deadLetteringOnMessageExpiration) {
        this.#deadLetter(seq, 'TTLExpiredException', 'The message expired and was dead lettered.');
      } else {
        this.#db.prepare('DELETE FROM sb_messages WHERE seq = ?').run(seq);
      }
    }
    if (o.duplicateDetectionWindowMs > 0 && ++this.#housekeepings % 500 === 0) {
      this.#db.prepare('DELETE FROM sb_duplicates WHERE seen_at < ?').run(now - o.duplicateDetectionWindowMs);
    }
  }

  #deadLetter(seq: number, reason: string, description: string | undefined): void {
    this.#db
      .prepare(
        `UPDATE sb_messages SET state = ${DEAD_LETTERED}, locked_until = 0, lock_token = NULL, dl_reason = ?, dl_description = ?,
           expires_at = NULL WHERE seq = ?`,
      )
      .run(reason, description ?? null, seq);
  }

  /** A previous process's locks died with it: make them expired now, so their messages come back. */
  #recoverAfterRestart(): void {
    this.#db.transaction(() => {
      this.#db.prepare('DELETE FROM sb_sessions').run();
      this.#db
        .prepare(
          `UPDATE sb_messages SET locked_until = 1, lock_token = NULL WHERE state = ${ACTIVE} AND locked_until > 1`,
        )
        .run();
    })();
    for (const entity of this.#entities.values()) {
      const next = this.#nextEventAt(entity.key);
      if (next !== undefined) this.#arm(entity.key, next);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Peek and admin

  async peek(source: ReceiveSource, options: PeekOptions = {}): Promise<BrokeredMessage[]> {
    return this.peekSync(source, options);
  }

  peekSync(source: ReceiveSource, options: PeekOptions = {}): BrokeredMessage[] {
    this.#assertOpen();
    const entity = this.#source(source);
    this.#db.transaction(() => this.#housekeep(entity))();
    const now = this.#clock.now();
    const rows = this.#db
      .prepare(
        `SELECT * FROM sb_messages WHERE entity = ? AND state = ? AND (? IS NULL OR session_id = ?) ORDER BY seq LIMIT ?`,
      )
      .all(
        entity.key,
        options.deadLetter ? DEAD_LETTERED : ACTIVE,
        options.sessionId ?? null,
        options.sessionId ?? null,
        options.max ?? 100,
      ) as MessageRow[];
    return rows.map((row) => {
      const m = toBrokered(row, now);
      delete m.lockToken;
      delete m.lockedUntilUtc;
      return m;
    });
  }

  depth(): EntityDepth[] {
    this.#assertOpen();
    const now = this.#clock.now();
    const out: EntityDepth[] = [];
    for (const entity of this.listEntities()) {
      if (entity.kind === 'topic') continue;
      this.#db.transaction(() => this.#housekeep(entity))();
      const counts = this.#db
        .prepare(
          `SELECT
             SUM(CASE WHEN state = ${ACTIVE} AND visible_at <= ? AND locked_until <= ? THEN 1 ELSE 0 END) AS active,
             SUM(CASE WHEN state = ${ACTIVE} AND visible_at > ? THEN 1 ELSE 0 END) AS scheduled,
             SUM(CASE WHEN state = ${ACTIVE} AND locked_until > ? THEN 1 ELSE 0 END) AS locked,
             SUM(CASE WHEN state = ${DEAD_LETTERED} THEN 1 ELSE 0 END) AS deadLettered
           FROM sb_messages WHERE entity = ?`,
        )
        .get(now, now, now, now, entity.key) as Record<string, number | null>;
      out.push({
        path: entity.name,
        kind: entity.kind,
        requiresSession: entity.requiresSession,
        active: counts.active ?? 0,
        scheduled: counts.scheduled ?? 0,
        locked: counts.locked ?? 0,
        deadLettered: counts.deadLettered ?? 0,
      });
    }
    return out;
  }

  /**
   * Moves dead-lettered messages back to the active queue of their entity as fresh deliveries
   * (delivery count 0, dead-letter fields cleared, duplicate detection not applied).
   */
  resubmitDeadLetters(source: ReceiveSource, sequenceNumbers?: number[]): number {
    this.#assertOpen();
    const entity = this.#source(source);
    const now = this.#clock.now();
    const selected = this.#selectDeadLetters(entity, sequenceNumbers);
    this.#db.transaction(() => {
      const copy = this.#db.prepare(
        `INSERT INTO sb_messages (entity, state, session_id, message_id, body, props, enqueued_at, visible_at, expires_at)
         SELECT entity, ${ACTIVE}, session_id, message_id, body, props, ?, ?, NULL FROM sb_messages WHERE seq = ?`,
      );
      const remove = this.#db.prepare('DELETE FROM sb_messages WHERE seq = ?');
      for (const seq of selected) {
        copy.run(now, now, seq);
        remove.run(seq);
      }
    })();
    if (selected.length > 0) this.#notify(entity.key);
    return selected.length;
  }

  purgeDeadLetters(source: ReceiveSource, sequenceNumbers?: number[]): number {
    this.#assertOpen();
    const entity = this.#source(source);
    const selected = this.#selectDeadLetters(entity, sequenceNumbers);
    this.#db.transaction(() => {
      const remove = this.#db.prepare('DELETE FROM sb_messages WHERE seq = ?');
      for (const seq of selected) remove.run(seq);
    })();
    return selected.length;
  }

  #selectDeadLetters(entity: Entity, sequenceNumbers: number[] | undefined): number[] {
    const all = (
      this.#db
        .prepare(`SELECT seq FROM sb_messages WHERE entity = ? AND state = ${DEAD_LETTERED} ORDER BY seq`)
        .all(entity.key) as { seq: number }[]
    ).map((r) => r.seq);
    if (!sequenceNumbers) return all;
    const wanted = new Set(sequenceNumbers);
    return all.filter((seq) => wanted.has(seq));
  }

  // ---------------------------------------------------------------------------------------------
  // Waking receivers

  /** Resolves when something happens on `entityKey`, or at `deadline` (wall clock), or on close. */
  waitFor(entityKey: string, deadline: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const set = this.#waiters.get(entityKey) ?? new Set<Waiter>();
      this.#waiters.set(entityKey, set);
      const waiter: Waiter = {
        wake: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', waiter.wake);
          set.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, Math.max(0, Math.min(deadline - Date.now(), 2 ** 31 - 1)));
      signal?.addEventListener('abort', waiter.wake, { once: true });
      set.add(waiter);
    });
  }

  /** Wakes the receivers waiting on an entity (a closing receiver uses it to end its own wait). */
  wake(entityKey: string): void {
    this.#notify(entityKey);
  }

  #notify(entityKey: string): void {
    const set = this.#waiters.get(entityKey);
    if (!set) return;
    for (const waiter of [...set]) waiter.wake();
  }

  /** Wakes the entity's receivers at `at` (a scheduled message, a lock that lapses). One timer per entity. */
  #arm(entityKey: string, at: number): void {
    const current = this.#timers.get(entityKey);
    if (current && current.at <= at) return;
    current?.cancel();
    const cancel = this.#clock.schedule(at, () => {
      this.#timers.delete(entityKey);
      if (this.#closed) return;
      this.#notify(entityKey);
      const next = this.#nextEventAt(entityKey);
      if (next !== undefined) this.#arm(entityKey, next);
    });
    this.#timers.set(entityKey, { at, cancel });
  }

  #nextEventAt(entityKey: string): number | undefined {
    const now = this.#clock.now();
    const row = this.#db
      .prepare(
        `SELECT MIN(t) AS at FROM (
           SELECT MIN(visible_at) AS t FROM sb_messages WHERE entity = ? AND state = ${ACTIVE} AND visible_at > ?
           UNION ALL SELECT MIN(locked_until) FROM sb_messages WHERE entity = ? AND state = ${ACTIVE} AND locked_until > ?
           UNION ALL SELECT MIN(expires_at) FROM sb_messages WHERE entity = ? AND state = ${ACTIVE} AND expires_at > ?
           UNION ALL SELECT MIN(locked_until) FROM sb_sessions WHERE entity = ? AND locked_until > ?)`,
      )
      .get(entityKey, now, entityKey, now, entityKey, now, entityKey, now) as { at: number | null };
    return row.at ?? undefined;
  }

  forgetReceiver(receiver: EmbeddedReceiver): void {
    this.#receivers.delete(receiver);
  }

  get closed(): boolean {
    return this.#closed;
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new ServiceBusBrokerError('GeneralError', 'The embedded broker is closed.', { retryable: false });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    for (const receiver of [...this.#receivers]) await receiver.close();
    this.#closed = true;
    for (const timer of this.#timers.values()) timer.cancel();
    this.#timers.clear();
    for (const set of this.#waiters.values()) for (const waiter of [...set]) waiter.wake();
    this.#db.close();
  }
}

class EmbeddedReceiver implements BrokerReceiver {
  #closed = false;
  readonly #session: { id: string; token: string } | undefined;

  constructor(
    private readonly broker: EmbeddedBroker,
    private readonly entity: Entity,
    readonly sessionId: string | undefined,
    sessionToken: string | undefined,
  ) {
    this.#session =
      sessionId !== undefined && sessionToken !== undefined
        ? { id: sessionId, token: sessionToken }
        : undefined;
  }

  async receive(max: number, maxWaitMs: number): Promise<BrokeredMessage[]> {
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      if (this.#closed || this.broker.closed) return [];
      const messages = this.broker.lockMessages(this.entity, max, this.#session);
      if (messages.length > 0 || Date.now() >= deadline) return messages;
      await this.broker.waitFor(this.entity.key, deadline);
    }
  }

  async complete(message: BrokeredMessage): Promise<void> {
    this.broker.settle(this.entity, message, this.#session, { kind: 'complete' });
  }

  async abandon(message: BrokeredMessage): Promise<void> {
    this.broker.settle(this.entity, message, this.#session, { kind: 'abandon' });
  }

  async release(message: BrokeredMessage): Promise<void> {
    this.broker.settle(this.entity, message, this.#session, { kind: 'release' });
  }

  async deadLetter(message: BrokeredMessage, options: DeadLetterOptions): Promise<void> {
    this.broker.settle(this.entity, message, this.#session, { kind: 'deadLetter', options });
  }

  async renewLock(message: BrokeredMessage): Promise<number> {
    return this.broker.renewLock(this.entity, message, this.#session);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#session) this.broker.releaseSession(this.entity, this.#session);
    else this.broker.wake(this.entity.key);
    this.broker.forgetReceiver(this);
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sb_entities (
  key TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  topic TEXT,
  requires_session INTEGER NOT NULL DEFAULT 0,
  options TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sb_messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  entity TEXT NOT NULL,
  state INTEGER NOT NULL,
  session_id TEXT,
  message_id TEXT NOT NULL,
  body BLOB NOT NULL,
  props TEXT NOT NULL,
  enqueued_at INTEGER NOT NULL,
  visible_at INTEGER NOT NULL,
  expires_at INTEGER,
  delivery_count INTEGER NOT NULL DEFAULT 0,
  locked_until INTEGER NOT NULL DEFAULT 0,
  lock_token TEXT,
  dl_reason TEXT,
  dl_description TEXT,
  dl_source TEXT
);
CREATE INDEX IF NOT EXISTS sb_messages_by_entity ON sb_messages (entity, state, seq);
CREATE INDEX IF NOT EXISTS sb_messages_by_session ON sb_messages (entity, session_id, state, seq);
CREATE TABLE IF NOT EXISTS sb_duplicates (
  entity TEXT NOT NULL,
  message_id TEXT NOT NULL,
  seen_at INTEGER NOT NULL,
  PRIMARY KEY (entity, message_id)
);
CREATE TABLE IF NOT EXISTS sb_sessions (
  entity TEXT NOT NULL,
  session_id TEXT NOT NULL,
  locked_until INTEGER NOT NULL,
  lock_token TEXT NOT NULL,
  PRIMARY KEY (entity, session_id)
);
`;

function fromEntityRow(row: EntityRow): Entity {
  return {
    key: row.key,
    name: row.name,
    kind: row.kind,
    topic: row.topic ?? undefined,
    requiresSession: row.requires_session === 1,
    options: { ...DEFAULT_ENTITY_OPTIONS, ...(JSON.parse(row.options) as Partial<EntityOptions>) },
  };
}

function propsOf(message: OutgoingMessage): StoredProps {
  const props: StoredProps = {};
  if (message.contentType !== undefined) props.contentType = message.contentType;
  if (message.correlationId !== undefined) props.correlationId = message.correlationId;
  if (message.subject !== undefined) props.subject = message.subject;
  if (message.to !== undefined) props.to = message.to;
  if (message.replyTo !== undefined) props.replyTo = message.replyTo;
  if (message.replyToSessionId !== undefined) props.replyToSessionId = message.replyToSessionId;
  if (message.partitionKey !== undefined) props.partitionKey = message.partitionKey;
  if (message.applicationProperties !== undefined)
    props.applicationProperties = message.applicationProperties;
  return props;
}

function toBrokered(row: MessageRow, now: number): BrokeredMessage {
  const props = JSON.parse(row.props) as StoredProps;
  const m: BrokeredMessage = {
    body: Buffer.from(row.body),
    messageId: row.message_id,
    applicationProperties: props.applicationProperties ?? {},
    deliveryCount: row.delivery_count,
    sequenceNumber: row.seq,
    enqueuedTimeUtc: row.enqueued_at,
  };
  if (row.session_id !== null) m.sessionId = row.session_id;
  if (props.contentType !== undefined) m.contentType = props.contentType;
  if (props.correlationId !== undefined) m.correlationId = props.correlationId;
  if (props.subject !== undefined) m.subject = props.subject;
  if (props.to !== undefined) m.to = props.to;
  if (props.replyTo !== undefined) m.replyTo = props.replyTo;
  if (props.replyToSessionId !== undefined) m.replyToSessionId = props.replyToSessionId;
  if (props.partitionKey !== undefined) m.partitionKey = props.partitionKey;
  if (row.expires_at !== null) m.expiresAtUtc = row.expires_at;
  if (row.lock_token !== null) {
    m.lockToken = row.lock_token;
    m.lockedUntilUtc = row.locked_until;
  }
  m.state = row.state === DEAD_LETTERED ? 'deadLettered' : row.visible_at > now ? 'scheduled' : 'active';
  if (row.dl_reason !== null) m.deadLetterReason = row.dl_reason;
  if (row.dl_description !== null) m.deadLetterErrorDescription = row.dl_description;
  if (row.dl_source !== null) m.deadLetterSource = row.dl_source;
  return m;
}

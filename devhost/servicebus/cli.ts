import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { DEFAULT_DEVHOST_URL } from '../origin';
import type { AdminMessage } from './admin';
import { SERVICEBUS_ADMIN_BASE } from './admin';

interface CommonFlags {
  url: string;
}

interface SendFlags extends CommonFlags {
  file?: string;
  messageId?: string;
  sessionId?: string;
  contentType?: string;
  correlationId?: string;
  subject?: string;
  prop: string[];
  schedule?: string;
  ttl?: string;
}

interface PeekFlags extends CommonFlags {
  max: number;
  sessionId?: string;
}

interface SeqFlags extends CommonFlags {
  seq?: number[];
}

/**
 * `devhost sb send|peek|dlq|resubmit|purge|depth`: the embedded broker's admin API from a shell.
 * Sources are a queue name or `topic/Subscriptions/subscription`.
 */
export function registerServiceBusCommands(program: Command): Command {
  const sb = program
    .command('sb')
    .description("Talk to a running devhost's embedded Service Bus broker (admin HTTP).");

  const withUrl = (cmd: Command) =>
    cmd.option(
      '--url <origin>',
      'devhost origin (default: DEVHOST_URL or http://127.0.0.1:7071)',
      DEFAULT_DEVHOST_URL,
    );

  withUrl(
    sb
      .command('send')
      .description('Send a message (or, with --file, one or many) to a queue or topic.')
      .argument('<entity>', 'queue or topic name')
      .argument('[body]', 'message body (text; JSON stays JSON)')
      .option(
        '-f, --file <path>',
        'JSON file: a message {body, messageId, ...}, an array of them, or {messages: [...]}',
      )
      .option('--message-id <id>')
      .option('--session-id <id>')
      .option('--content-type <type>')
      .option('--correlation-id <id>')
      .option('--subject <subject>')
      .option(
        '--prop <key=value>',
        'application property (repeatable; numbers and true/false are typed)',
        collect,
        [],
      )
      .option('--schedule <when>', 'scheduled enqueue time: ISO time or +<seconds>s')
      .option('--ttl <duration>', 'time to live: ms, hh:mm:ss or ISO 8601 (PT30S)'),
  ).action(
    guard(async (entity: string, body: string | undefined, flags: SendFlags) => {
      let payload: unknown;
      if (flags.file) {
        payload = JSON.parse(readFileSync(flags.file, 'utf8')) as unknown;
      } else {
        if (body === undefined) throw new InvalidArgumentError('Give a body or --file.');
        payload = messageFromFlags(body, flags);
      }
      const result = (await call(
        flags.url,
        'POST',
        `/entities/${encodeURIComponent(entity)}/messages`,
        payload,
      )) as {
        accepted: number;
        duplicates: number;
      };
      out(
        `sent ${result.accepted} to ${entity}` +
          (result.duplicates ? ` (${result.duplicates} duplicate(s) dropped)` : ''),
      );
    }),
  );

  const peek = (deadLetter: boolean) =>
    guard(async (source: string, flags: PeekFlags) => {
      const q = new URLSearchParams({ source, max: String(flags.max), deadLetter: String(deadLetter) });
      if (flags.sessionId) q.set('sessionId', flags.sessionId);
      const result = (await call(flags.url, 'GET', `/messages?${q.toString()}`)) as { messages: unknown[] };
      out(JSON.stringify(result.messages, null, 2));
    });
  withUrl(
    sb
      .command('peek')
      .description('Show active (and scheduled) messages without locking them.')
      .argument('<source>', 'queue or topic/Subscriptions/subscription')
      .option('--max <n>', 'at most this many', positiveInt, 100)
      .option('--session-id <id>', 'only this session'),
  ).action(peek(false));
  withUrl(
    sb
      .command('dlq')
      .description('Show dead-lettered messages with their reasons.')
      .argument('<source>', 'queue or topic/Subscriptions/subscription')
      .option('--max <n>', 'at most this many', positiveInt, 100),
  ).action(peek(true));

  for (const action of ['resubmit', 'purge'] as const) {
    withUrl(
      sb
        .command(action)
        .description(
          action === 'resubmit'
            ? 'Move dead-lettered messages back to be delivered again (all, or --seq ones).'
            : 'Delete dead-lettered messages (all, or --seq ones).',
        )
        .argument('<source>', 'queue or topic/Subscriptions/subscription')
        .option('--seq <n...>', 'sequence numbers', (v: string, prev: number[] = []) => [
          ...prev,
          positiveInt(v),
        ]),
    ).action(
      guard(async (source: string, flags: SeqFlags) => {
        const result = (await call(flags.url, 'POST', `/deadletters/${action}`, {
          source,
          ...(flags.seq ? { sequenceNumbers: flags.seq } : {}),
        })) as Record<string, number>;
        out(
          `${action === 'resubmit' ? 'resubmitted' : 'purged'} ${result[action === 'resubmit' ? 'resubmitted' : 'purged']} from ${source}`,
        );
      }),
    );
  }

  withUrl(sb.command('depth').description('Message counts per queue and subscription.')).action(
    guard(async (flags: CommonFlags) => {
      const result = (await call(flags.url, 'GET', '/entities')) as {
        entities: {
          path: string;
          requiresSession: boolean;
          active: number;
          scheduled: number;
          locked: number;
          deadLettered: number;
        }[];
      };
      const rows = [['entity', 'sessions', 'active', 'scheduled', 'locked', 'dead-lettered']];
      for (const e of result.entities) {
        rows.push([
          e.path,
          e.requiresSession ? 'yes' : 'no',
          String(e.active),
          String(e.scheduled),
          String(e.locked),
          String(e.deadLettered),
        ]);
      }
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const row of rows)
        out(
          row
            .map((cell, i) => cell.padEnd(widths[i]!))
            .join('  ')
            .trimEnd(),
        );
    }),
  );
  return sb;
}

function messageFromFlags(body: string, flags: SendFlags): AdminMessage {
  const message: AdminMessage = { body };
  if (flags.messageId) message.messageId = flags.messageId;
  if (flags.sessionId) message.sessionId = flags.sessionId;
  if (flags.contentType) message.contentType = flags.contentType;
  if (flags.correlationId) message.correlationId = flags.correlationId;
  if (flags.subject) message.subject = flags.subject;
  if (flags.prop.length > 0) {
    message.applicationProperties = {};
    for (const pair of flags.prop) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new InvalidArgumentError(`--prop "${pair}" is not key=value.`);
      const raw = pair.slice(eq + 1);
      message.applicationProperties[pair.slice(0, eq)] =
        raw === 'true'
          ? true
          : raw === 'false'
            ? false
            : raw !== '' && Number.isFinite(Number(raw))
              ? Number(raw)
              : raw;
    }
  }
  if (flags.schedule) {
    const relative = /^\+(\d+(?:\.\d+)?)s$/.exec(flags.schedule);
    const at = relative ? Date.now() + Number(relative[1]) * 1000 : Date.parse(flags.schedule);
    if (!Number.isFinite(at)) throw new InvalidArgumentError(`--schedule "${flags.schedule}" is not a time.`);
    message.scheduledEnqueueTimeUtc = new Date(at).toISOString();
  }
  if (flags.ttl) message.timeToLive = /^\d+$/.test(flags.ttl) ? Number(flags.ttl) : flags.ttl;
  return message;
}

async function call(origin: string, method: string, path: string, body?: unknown): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`${origin.replace(/\/+$/, '')}${SERVICEBUS_ADMIN_BASE}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw new Error(
      `cannot reach devhost at ${origin} (${(err as Error).message}); is it running? (--url / DEVHOST_URL)`,
    );
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch {
    // Not JSON: report the text as it is.
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } }).error;
    throw new Error(`${response.status} ${error?.code ?? ''}: ${error?.message ?? text}`.trim());
  }
  return parsed;
}

/** Reports a failure as one line on stderr and a non-zero exit code, without a stack trace. */
function guard<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (err) {
      process.stderr.write(`devhost sb: ${(err as Error).message}\n`);
      process.exitCode = 1;
    }
  };
}

function out(line: string): void {
  process.stdout.write(line + '\n');
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('Give a positive integer.');
  return n;
}

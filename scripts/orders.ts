/**
 * `npm run orders -- ...`: the order-sync operator's tool.
 *
 *   npm run orders -- --rate 50 --seconds 60 --orders 2000 [--shuffle] [--duplicates]
 *       write realistic order changes to their spoke databases (the configured topology's stores),
 *       then publish them to `order-events` (devhost's embedded broker by default, Azure Service Bus
 *       with --connection or the ServiceBusConnection setting as a connection string);
 *       --no-spoke-write publishes only
 *   npm run orders -- catalog            seed the hub's product catalog (local SQLite data dir)
 *   npm run orders -- status <region> <orderId>
 *   npm run orders -- deadletters list | show <id> | replay <id> [--file fixed.json]
 *
 * App endpoints are reached at --url (before or after the subcommand; default DEVHOST_URL, else
 * http://127.0.0.1:7071) with --code as the function key when the app runs in Azure.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { SqliteOrderSagaStore } from '../adapters/sqliteOrderSaga.js';
import { withLocalDefaults } from '../config/localDefaults.js';
import { loadConfig } from '../config/loadConfig.js';
import { DEMO_CATALOG } from './orderGenerator.js';
import { fetchApp, URL_HELP, urlOf } from './appUrl.js';
import { devhostSink, runLoad, serviceBusSink } from './orderLoad.js';
import { spokeOutbox } from './spokeOutbox.js';

const positive = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
};

interface AppFlags {
  url?: string;
  code?: string;
}

/** The app's origin and function key: the nearest explicit --url/--code, before or after the subcommand. */
function appOf(command: Command): { url: string; code?: string } {
  let code: string | undefined;
  for (let c: Command | null = command; c !== null && code === undefined; c = c.parent)
    code = c.opts<AppFlags>().code;
  return { url: urlOf(command), ...(code === undefined ? {} : { code }) };
}

/** One app request: the status and the JSON answer. */
async function request(
  command: Command,
  method: string,
  route: string,
  body?: string,
): Promise<{ status: number; json: unknown; text: string }> {
  const app = appOf(command);
  const url = new URL(`${app.url}/api/${route}`);
  if (app.code !== undefined) url.searchParams.set('code', app.code);
  const res = await fetchApp(url, {
    method,
    ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text === '' ? null : (JSON.parse(text) as unknown);
  } catch {
    json = text;
  }
  return { status: res.status, json, text };
}

/** An app request that must succeed: the JSON answer, or an error naming the status. */
async function call(command: Command, method: string, route: string, body?: string): Promise<unknown> {
  const res = await request(command, method, route, body);
  if (res.status >= 400) throw new Error(`${method} ${route} answered ${res.status}: ${res.text}`);
  return res.json;
}

const program = new Command('orders')
  .description('Order sync: load generator, status and dead letters.')
  .enablePositionalOptions();
// On the program and on every subcommand: `orders --url X status ...` and `orders status ... --url X` alike.
const appOptions = (c: Command) =>
  c.option('--url <origin>', URL_HELP).option('--code <key>', 'function key (Azure)');

appOptions(program)
  .option('--rate <n>', 'events per second', positive, 50)
  .option('--seconds <n>', 'how long', positive, 60)
  .option('--orders <n>', 'distinct orders', positive, 2000)
  .option('--shuffle', 'send some versions of an order newest first', false)
  .option('--duplicates', 'send about one message in ten twice', false)
  .option('--regions <list>', 'source regions', 'sea,eu,latam')
  .option('--seed <n>', 'generator seed', positive, 1)
  .option('--prefix <p>', 'order id prefix', 'ord-')
  .option('--connection <cs>', 'Azure Service Bus connection string (default: the embedded broker at --url)')
  .option(
    '--no-spoke-write',
    'publish only, without writing each order to its spoke database first (the monthly full compare then tombstones those orders in the hub)',
  )
  .action(async (flags: AppFlags & Record<string, unknown>) => {
    const cs = (flags.connection as string | undefined) ?? process.env.ServiceBusConnection;
    const azure = cs !== undefined && cs.includes('Endpoint=');
    const url = urlOf(program);
    const sink = azure ? serviceBusSink(cs) : devhostSink(url);
    const target = azure ? 'Azure Service Bus' : `devhost at ${url}`;
    // As a spoke CRM does: the order is written in its region first, then published.
    const outbox =
      flags.spokeWrite === false ? undefined : spokeOutbox(loadConfig(withLocalDefaults(process.env).env));
    console.log(
      `${outbox === undefined ? 'publishing' : 'writing to the spoke databases and publishing'} ${String(flags.rate)}/s for ${String(flags.seconds)} s over ${String(flags.orders)} orders to ${target}`,
    );
    const t0 = Date.now();
    try {
      const sent = await runLoad(
        {
          rate: flags.rate as number,
          seconds: flags.seconds as number,
          orders: Math.floor(flags.orders as number),
          shuffle: flags.shuffle === true,
          duplicates: flags.duplicates === true,
          regions: String(flags.regions).split(','),
          seed: flags.seed as number,
          prefix: String(flags.prefix),
        },
        sink,
        (n) => process.stdout.write(`\rsent ${n}`),
        outbox,
      );
      const s = (Date.now() - t0) / 1000;
      console.log(`\nsent ${sent.length} events in ${s.toFixed(1)} s (${(sent.length / s).toFixed(1)}/s)`);
      const last = sent[sent.length - 1];
      if (last !== undefined)
        console.log(`watch one: npm run orders -- status ${last.region} ${last.orderId}`);
    } finally {
      await sink.close();
      await outbox?.close();
    }
  });

program
  .command('catalog')
  .description("Seed the hub's product catalog in the local data directory (REGION_SYNC_DATA_DIR).")
  .action(async () => {
    const config = loadConfig(withLocalDefaults(process.env).env);
    const hub = config.topology.regions.find((r) => r.role === 'hub');
    const store = hub === undefined ? undefined : config.stores[hub.id];
    if (hub === undefined || store?.kind !== 'sqlite') throw new Error('the hub is not a local SQLite store');
    const saga = new SqliteOrderSagaStore({ region: hub.id, file: store.file });
    await saga.migrate();
    await saga.upsertProducts(DEMO_CATALOG);
    await saga.close();
    console.log(`${DEMO_CATALOG.length} products in ${store.file}`);
  });

appOptions(program.command('status <region> <orderId>').description("An order's coordinator state.")).action(
  async (region: string, orderId: string, _flags: AppFlags, command: Command) => {
    console.log(JSON.stringify(await call(command, 'GET', `orders/${region}/${orderId}`), null, 2));
  },
);

const dl = appOptions(
  program.command('deadletters').description('Refused order events: list, inspect, replay.'),
).enablePositionalOptions();
appOptions(dl.command('list'))
  .option('--max <n>', 'at most', positive, 100)
  .action(async (flags: AppFlags & { max: number }, command: Command) => {
    const out = (await call(command, 'GET', `order-deadletters?max=${flags.max}`)) as {
      deadLetters: {
        id: string;
        reason: string;
        deadLetteredAt: string;
        replayed: boolean;
        issues: string[];
      }[];
    };
    if (out.deadLetters.length === 0) console.log('no dead letters');
    for (const d of out.deadLetters)
      console.log(
        `${d.id}  ${d.deadLetteredAt}  ${d.reason}${d.replayed ? '  (replayed)' : ''}\n    ${d.issues.join('\n    ')}`,
      );
  });
appOptions(dl.command('show <id>')).action(async (id: string, _flags: AppFlags, command: Command) => {
  console.log(JSON.stringify(await call(command, 'GET', `order-deadletters/${id}`), null, 2));
});
appOptions(dl.command('replay <id>'))
  .option('--file <path>', 'the corrected event (JSON); default: replay the message as received')
  .action(async (id: string, flags: AppFlags & { file?: string }, command: Command) => {
    const body = flags.file === undefined ? undefined : readFileSync(flags.file, 'utf8');
    const res = await request(command, 'POST', `order-deadletters/${id}/replay`, body);
    console.log(JSON.stringify(res.json, null, 2));
    // Still invalid (422), or any other refusal: the replay did not happen, say so in the exit code.
    if (res.status !== 202) {
      console.error(`replay of ${id} refused (${res.status})`);
      process.exitCode = 1;
    }
  });

appOptions(
  program
    .command('unstick <region> <orderId>')
    .description("Take an order's turn over from a runner that stopped (terminated, purged, failed)."),
).action(async (region: string, orderId: string, _flags: AppFlags, command: Command) => {
  const res = await request(command, 'POST', `orders/${region}/${orderId}/unstick`);
  console.log(JSON.stringify(res.json, null, 2));
  if (res.status >= 400) process.exitCode = 1;
});

program.parseAsync().catch((e: unknown) => {
  console.error((e as Error).message);
  process.exit(1);
});

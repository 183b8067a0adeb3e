/**
 * The order-events queue in the Bicep is the queue the order trigger assumes (expectations.ts),
 * and, once the app registers its Service Bus trigger, the trigger binds to it the same way.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { providedSettings } from './appSettings';
import { objectEntries, readBicep } from './bicepScan';
import { ORDER_QUEUE, ORDER_TRIGGER } from './expectations';
import { DIST, MAIN_BICEP, REPO_ROOT, SERVICE_BUS_BICEP } from './paths';

function queueProperties(): Map<string, string> {
  const file = readBicep(SERVICE_BUS_BICEP);
  const at = file.code.indexOf("resource orderEvents 'Microsoft.ServiceBus/namespaces/queues@");
  assert.ok(at >= 0, 'serviceBus.bicep declares resource orderEvents');
  const body = objectEntries(file.code, file.code.indexOf('{', at));
  const properties = body.get('properties');
  assert.ok(properties !== undefined, 'orderEvents has properties');
  return objectEntries(properties, 0);
}

/**
 * Loads the compiled app in a child process with a stand-in for `@azure/functions-core` (the
 * module the Functions Node worker provides) and returns what it registered: the function
 * metadata Azure would index. Null when the app cannot be loaded outside a host.
 */
function registeredFunctions():
  { functions: { name: string; bindings: Record<string, Record<string, unknown>> }[] } | { error: string } {
  const script = `
    const Module = require('module');
    const registered = [];
    const core = new Proxy({
      registerFunction(metadata) { registered.push(metadata); return { dispose() {} }; },
      registerHook() { return { dispose() {} }; },
      setProgrammingModel() {}, getProgrammingModel() { return undefined; }, log() {},
    }, { get: (target, key) => (key in target ? target[key] : () => ({ dispose() {} })) });
    const load = Module._load;
    Module._load = function (request, ...rest) {
      return request === '@azure/functions-core' ? core : load.call(this, request, ...rest);
    };
    console.log = console.info = console.warn = console.debug = () => {};
    require(${JSON.stringify(join(DIST, 'index.js'))});
    setImmediate(() => { process.stdout.write(JSON.stringify(registered)); process.exit(0); });
  `;
  try {
    const out = execFileSync(process.execPath, ['-e', script], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 20_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return {
      functions: JSON.parse(out) as { name: string; bindings: Record<string, Record<string, unknown>> }[],
    };
  } catch (e) {
    return { error: (e as Error).message.split('\n').slice(0, 3).join(' ') };
  }
}

describe('order-events queue', () => {
  it('has the properties the order trigger assumes', () => {
    const props = queueProperties();
    assert.equal(props.get('requiresSession'), String(ORDER_QUEUE.requiresSession));
    assert.equal(props.get('requiresDuplicateDetection'), String(ORDER_QUEUE.requiresDuplicateDetection));
    assert.equal(
      props.get('duplicateDetectionHistoryTimeWindow'),
      `'${ORDER_QUEUE.duplicateDetectionHistoryTimeWindow}'`,
    );
    assert.equal(props.get('maxDeliveryCount'), String(ORDER_QUEUE.maxDeliveryCount));
    assert.equal(
      props.get('deadLetteringOnMessageExpiration'),
      String(ORDER_QUEUE.deadLetteringOnMessageExpiration),
    );
    // Premium: partitioning is set on the namespace; the queue-level flag is a Standard-tier feature.
    assert.equal(props.get('enablePartitioning'), 'false');
  });

  it('is named order-events in main.bicep and reaches the app as ORDER_EVENTS_QUEUE', () => {
    const main = readBicep(MAIN_BICEP);
    assert.equal(main.vars.get('orderQueueName'), `'${ORDER_QUEUE.name}'`);
    const sb = readBicep(SERVICE_BUS_BICEP);
    assert.equal(sb.params.get('queueName')?.defaultText, `'${ORDER_QUEUE.name}'`);
    const settings = providedSettings();
    assert.ok(settings.names.has('ORDER_EVENTS_QUEUE'));
    assert.ok(settings.names.has(`${ORDER_TRIGGER.connection}__fullyQualifiedNamespace`));
  });

  it('keeps the order trigger warm under the name the app registers it with', () => {
    const main = readBicep(MAIN_BICEP);
    assert.equal(main.params.get('orderTriggerFunctionName')?.defaultText, `'${ORDER_TRIGGER.functionName}'`);
    const settings = providedSettings();
    assert.match(settings.file.vars.get('alwaysReady') ?? '', /'function:\$\{orderTriggerFunctionName\}'/);
    assert.match(settings.file.vars.get('alwaysReady') ?? '', /name: 'durable'/);
  });

  it('is the queue the compiled app binds its Service Bus trigger to', (t) => {
    if (!existsSync(join(DIST, 'index.js'))) {
      t.skip('dist/index.js not built');
      return;
    }
    const result = registeredFunctions();
    if ('error' in result) {
      t.skip(`the app could not be loaded outside a host: ${result.error}`);
      return;
    }
    const triggers = result.functions.flatMap((f) =>
      Object.values(f.bindings)
        .filter((b) => String(b.type).toLowerCase() === 'servicebustrigger')
        .map((b) => ({ function: f.name, binding: b })),
    );
    const order = triggers.filter((x) =>
      (ORDER_TRIGGER.queueNames as readonly string[]).includes(String(x.binding.queueName)),
    );
    if (triggers.length === 0) {
      t.skip('the app registers no Service Bus trigger yet');
      return;
    }
    assert.equal(
      order.length,
      1,
      `one Service Bus trigger on order-events, found: ${JSON.stringify(triggers)}`,
    );
    const [{ function: name, binding }] = order as [{ function: string; binding: Record<string, unknown> }];
    assert.equal(
      name,
      ORDER_TRIGGER.functionName,
      'Flex always-ready instances are configured for this function name',
    );
    assert.equal(binding.connection, ORDER_TRIGGER.connection);
    assert.equal(
      binding.isSessionsEnabled,
      true,
      'order-events requires sessions; a session-less receiver cannot read it',
    );
  });
});

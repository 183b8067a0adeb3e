import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_TOPOLOGY } from '../../config/defaultTopology.js';
import { topologyProblems } from '../../config/topologySchema.js';
import { orderHistory } from '../../scripts/orderGenerator.js';
import { deadLetterId, orderAggregateOf, orderFlowRules, parseOrderMessage } from '../../sync/orderEvent.js';
import type { Topology } from '../../sync/topology.js';

const { topology } = topologyProblems(structuredClone(DEFAULT_TOPOLOGY));
const { rules } = orderFlowRules(topology as Topology);
const [v1, v2] = orderHistory('sea', 'so-1', 2, { seed: 7, start: Date.parse('2026-03-01T00:00:00Z') });
const meta = { messageId: 'sea:so-1:1', sessionId: 'sea:so-1' };

describe('order events', () => {
  it('accepts a generated event as text or JSON, with matching ids', () => {
    const parsed = parseOrderMessage(JSON.stringify(v1), meta, rules);
    assert.equal(parsed.ok, true);
    assert.deepEqual(
      parseOrderMessage(v2, { messageId: 'sea:so-1:2', sessionId: 'sea:so-1' }, rules).ok,
      true,
    );
  });

  it('only spokes that feed the hub publish orders', () => {
    assert.deepEqual([...rules.sourceRegions].sort(), ['eu', 'latam', 'sea']);
  });

  const refused: [string, unknown, Record<string, string>, string, RegExp][] = [
    ['not JSON', '{"region":', meta, 'invalid-json', /JSON/],
    ['missing version', { ...v1, version: undefined }, meta, 'schema', /^version:/],
    ['bad op', { ...v1, op: 'merge' }, meta, 'schema', /^op:/],
    ['zero version', { ...v1, version: 0 }, meta, 'schema', /^version:/],
    ['unknown field', { ...v1, extra: 1 }, meta, 'schema', /extra/],
    ['changedAt without a zone', { ...v1, changedAt: '2026-03-01T00:00:01' }, meta, 'schema', /^changedAt:/],
    ['changedAt as a date only', { ...v1, changedAt: '2026-03-01' }, meta, 'schema', /^changedAt:/],
    ['changedAt on 30 February', { ...v1, changedAt: '2026-02-30T00:00:00Z' }, meta, 'schema', /^changedAt:/],
    ["changedAt at 25 o'clock", { ...v1, changedAt: '2026-03-01T25:00:00Z' }, meta, 'schema', /^changedAt:/],
    [
      "an order id with '/'",
      { ...v1, orderId: 'a/b' },
      { messageId: 'sea:a/b:1', sessionId: 'sea:a/b' },
      'schema',
      /^orderId:/,
    ],
    [
      "an order id '..'",
      { ...v1, orderId: '..' },
      { messageId: 'sea:..:1', sessionId: 'sea:..' },
      'schema',
      /^orderId:/,
    ],
    [
      "an order id with '..' inside",
      { ...v1, orderId: 'a..b' },
      { messageId: 'sea:a..b:1', sessionId: 'sea:a..b' },
      'schema',
      /^orderId:/,
    ],
    [
      'a negative quantity',
      { ...v1, lines: [{ ...v1!.lines[0], quantity: -2 }] },
      meta,
      'contract',
      /^lines\.0\.quantity: must not be negative, got -2/,
    ],
    [
      'a negative line amount',
      { ...v1, lines: [{ ...v1!.lines[0], line_amount: -0.01 }] },
      meta,
      'contract',
      /^lines\.0\.line_amount: must not be negative/,
    ],
    [
      'a negative total',
      { ...v1, order: { ...v1!.order, total_amount: -10 } },
      meta,
      'contract',
      /^order\.total_amount: must not be negative, got -10/,
    ],
    [
      'hub as source',
      { ...v1, region: 'cn' },
      { messageId: 'cn:so-1:1', sessionId: 'cn:so-1' },
      'contract',
      /region/,
    ],
    ['wrong session', v1, { ...meta, sessionId: 'sea:so-2' }, 'contract', /^sessionId:/],
    ['wrong message id', v1, { ...meta, messageId: 'sea:so-1:9' }, 'contract', /^messageId:/],
    ['unknown column', { ...v1, order: { ...v1!.order, vip: true } }, meta, 'contract', /order\.vip/],
    ['version in order', { ...v1, order: { ...v1!.order, version: 3 } }, meta, 'contract', /order\.version/],
    [
      'repeated line',
      { ...v1, lines: [v1!.lines[0], v1!.lines[0]] },
      meta,
      'contract',
      /line_no: \d+ repeated/,
    ],
  ];
  for (const [name, body, m, reason, issue] of refused) {
    it(`refuses ${name} with reason ${reason}`, () => {
      const parsed = parseOrderMessage(body, m, rules);
      assert.equal(parsed.ok, false);
      if (parsed.ok) return;
      assert.equal(parsed.reason, reason);
      assert.ok(
        parsed.issues.some((i) => issue.test(i)),
        parsed.issues.join(' | '),
      );
    });
  }

  it('accepts any ISO-8601 instant as changedAt and keeps it as UTC with milliseconds', () => {
    const cases: [string, string][] = [
      ['2026-12-04T13:00:00Z', '2026-12-04T13:00:00.000Z'],
      ['2026-12-04T21:00:00+08:00', '2026-12-04T13:00:00.000Z'],
      ['2026-12-04T08:00:00.5-05:00', '2026-12-04T13:00:00.500Z'],
      ['2026-12-04T13:00:00.123456Z', '2026-12-04T13:00:00.123Z'],
      ['2026-12-04T13:00Z', '2026-12-04T13:00:00.000Z'],
      ['2026-12-04T21:00:00+0800', '2026-12-04T13:00:00.000Z'],
      ['2026-12-04T21:00:00+08', '2026-12-04T13:00:00.000Z'],
      ['20261204T130000Z', '2026-12-04T13:00:00.000Z'],
      ['2026-12-04t13:00:00,25z', '2026-12-04T13:00:00.250Z'],
      ['2026-12-05T00:30:00+11:30', '2026-12-04T13:00:00.000Z'],
    ];
    for (const [given, kept] of cases) {
      const parsed = parseOrderMessage({ ...v1, changedAt: given }, meta, rules);
      assert.equal(parsed.ok, true, `${given}: ${parsed.ok ? '' : parsed.issues.join(' | ')}`);
      if (parsed.ok) assert.equal(parsed.event.changedAt, kept, given);
    }
  });

  it('accepts zero quantities and amounts', () => {
    const parsed = parseOrderMessage(
      { ...v1, lines: [{ ...v1!.lines[0], quantity: 0, line_amount: 0 }] },
      meta,
      rules,
    );
    assert.equal(parsed.ok, true);
  });

  it('dead-letter ids of hostile message ids are safe blob names without ".."', () => {
    for (const id of ['sea:../x:1', 'sea:a/b:1', '..', 'sea:...:1', null]) {
      const dl = deadLetterId(id, 7);
      assert.match(dl, /^[A-Za-z0-9._-]{1,200}$/);
      assert.equal(dl.includes('..'), false, dl);
    }
    assert.notEqual(
      deadLetterId('sea:a/b:1', 1),
      deadLetterId('sea:a/b:1', 2),
      'two messages flattened alike stay apart by sequence number',
    );
  });

  it('maps an event to the aggregate with id, version and home region from the event', () => {
    const agg = orderAggregateOf(v2!, rules);
    assert.equal(agg.header.values.order_id, 'so-1');
    assert.equal(agg.header.values.version, 2);
    assert.equal(agg.header.values.home_region, 'sea');
    assert.equal(agg.header.originRegion, 'sea');
    assert.equal(agg.header.modifiedAt, v2!.changedAt);
    assert.equal(agg.lines.length, v2!.lines.length);
    assert.ok(agg.lines.every((l) => l.values.order_id === 'so-1' && l.values.home_region === 'sea'));
    const del = orderAggregateOf({ ...v2!, op: 'delete', lines: [] }, rules);
    assert.equal(del.header.isDeleted, true);
  });
});

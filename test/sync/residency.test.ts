import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_TOPOLOGY } from '../../config/defaultTopology.js';
import { topologyProblems } from '../../config/topologySchema.js';
import type { ChangeRow } from '../../sync/model.js';
import { prepareOutbound } from '../../sync/outbound.js';
import { applyResidency, guardFor, guardProblem, isPseudonym, pseudonymize } from '../../sync/residency.js';
import { originPasses, sentOrigins, shouldSend } from '../../sync/routing.js';
import type { Topology } from '../../sync/topology.js';
import { flowOf, linksOf, residencyFor } from '../../sync/topology.js';

const KEY = Buffer.alloc(32, 1).toString('base64');
const OTHER_KEY = Buffer.alloc(32, 2).toString('base64');

function defaultTopology(): Topology {
  const { topology, problems } = topologyProblems(structuredClone(DEFAULT_TOPOLOGY));
  assert.deepEqual(problems, []);
  return topology as Topology;
}

function euOrder(name: string, email: string, phone: string, address: string, customerId: string): ChangeRow {
  return {
    values: {
      order_id: 'eu-1',
      home_region: 'eu',
      version: 1,
      customer_id: customerId,
      customer_name: name,
      customer_email: email,
      customer_phone: phone,
      shipping_address: address,
      currency: 'EUR',
      total_amount: 10,
      status: 'open',
      ordered_at: '2026-01-01T00:00:00.000Z',
    },
    modifiedAt: '2026-01-01T00:00:00.000Z',
    originRegion: 'eu',
    isDeleted: false,
    cursor: { change: '1', key: ['eu-1'] },
  };
}

describe('residency policy', () => {
  it('pseudonymizes with a keyed, stable HMAC: same input same pseudonym, other key other pseudonym', () => {
    const a = pseudonymize('anna@example.de', KEY);
    assert.equal(a, pseudonymize('anna@example.de', KEY));
    assert.notEqual(a, pseudonymize('anna@example.de', OTHER_KEY));
    assert.notEqual(a, pseudonymize('anna@example.com', KEY));
    assert.notEqual(pseudonymize(1, KEY), pseudonymize('1', KEY));
    assert.ok(isPseudonym(a));
    assert.equal(pseudonymize(a, KEY), a, 'a forwarded pseudonym is not hashed twice');
    assert.equal(pseudonymize(null, KEY), null);
  });

  it('no raw EU customer PII leaves toward the hub under the default topology (property)', () => {
    const topology = defaultTopology();
    const flow = flowOf(topology, 'orders');
    const link = { flow: 'orders', source: 'eu', target: 'cn' };
    const pii = fc.string({ minLength: 3, maxLength: 30 }).filter((s) => !s.startsWith('p1:'));
    fc.assert(
      fc.property(pii, pii, pii, pii, pii, (name, email, phone, address, id) => {
        const out = prepareOutbound(
          [euOrder(name, email, phone, address, id)],
          topology,
          flow,
          link,
          'sales_order',
          {
            pseudonymKey: KEY,
          },
        );
        assert.equal(out.rows.length, 1);
        const row = out.rows[0]!;
        assert.ok(!('customer_name' in row.values) && !('shipping_address' in row.values));
        for (const c of ['customer_email', 'customer_phone', 'customer_id'])
          assert.ok(isPseudonym(row.values[c] ?? null));
        const sent = JSON.stringify(row);
        for (const raw of [name, email, phone, address, id]) {
          assert.ok(
            !sent.includes(JSON.stringify(raw)),
            `raw value ${JSON.stringify(raw)} crossed the border`,
          );
        }
        assert.equal(guardProblem(out.rows, guardFor(residencyFor(flow, link, 'sales_order'))), null);
      }),
      { numRuns: 200 },
    );
  });

  it('the load-side guard refuses a forbidden column (even null) and a raw value in a pseudonymized column', () => {
    const guard = { forbiddenColumns: ['customer_name'], pseudonymizedColumns: ['customer_email'] };
    const base = { modifiedAt: '2026-01-01T00:00:00.000Z', originRegion: 'eu', isDeleted: false };
    assert.match(
      guardProblem([{ ...base, values: { customer_name: null } }], guard) ?? '',
      /forbidden column/,
    );
    assert.match(guardProblem([{ ...base, values: { customer_email: 'a@b.de' } }], guard) ?? '', /raw value/);
    assert.equal(
      guardProblem([{ ...base, values: { customer_email: pseudonymize('a@b.de', KEY) } }], guard),
      null,
    );
  });

  it('row predicates with $target: a spoke receives only global promotions and its own', () => {
    const topology = defaultTopology();
    const flow = flowOf(topology, 'promotions');
    const promo = (scope: string): ChangeRow => ({
      values: { promotion_id: `P-${scope}`, region_scope: scope },
      modifiedAt: '2026-01-01T00:00:00.000Z',
      originRegion: 'cn',
      isDeleted: false,
      cursor: { change: '1', key: [`P-${scope}`] },
    });
    const rows = ['global', 'sea', 'eu', 'latam'].map(promo);
    const out = prepareOutbound(
      rows,
      topology,
      flow,
      { flow: 'promotions', source: 'cn', target: 'eu' },
      'promotion',
      {
        pseudonymKey: null,
      },
    );
    assert.deepEqual(
      out.rows.map((r) => r.values.region_scope),
      ['global', 'eu'],
    );
    assert.equal(out.heldByResidency, 2);
  });

  it('refuses to pseudonymize without a key rather than sending raw values', () => {
    const policy = { drop: [], pseudonymize: ['customer_email'], where: [] };
    const row = euOrder('n', 'e@x', 'p', 'a', 'c');
    assert.throws(() =>
      applyResidency(row, policy, { flow: 'orders', source: 'eu', target: 'cn' }, { pseudonymKey: null }),
    );
  });
});

describe('loop prevention', () => {
  /** Every region a change originating in `origin` reaches by following the flow's links repeatedly. */
  function reach(topology: Topology, flowName: string, origin: string): Set<string> {
    const flow = flowOf(topology, flowName);
    const holders = new Set([origin]);
    const deliveries: string[] = [];
    for (let round = 0; round < 5; round++) {
      for (const link of linksOf(topology, flow)) {
        if (holders.has(link.source) && shouldSend(origin, link, flow, topology)) {
          deliveries.push(`${link.source}->${link.target}`);
          holders.add(link.target);
        }
      }
    }
    assert.ok(!deliveries.some((d) => d.endsWith(`->${origin}`)), `a row went back to its origin ${origin}`);
    return holders;
  }

  it('a row never goes back to its origin; spokes send only their own rows', () => {
    const topology = defaultTopology();
    const pricing = flowOf(topology, 'pricing');
    assert.equal(
      shouldSend('sea', { flow: 'pricing', source: 'cn', target: 'sea' }, pricing, topology),
      false,
    );
    assert.equal(
      shouldSend('cn', { flow: 'pricing', source: 'sea', target: 'cn' }, pricing, topology),
      false,
    );
    assert.equal(
      shouldSend('eu', { flow: 'pricing', source: 'sea', target: 'cn' }, pricing, topology),
      false,
    );
    assert.equal(
      shouldSend('sea', { flow: 'pricing', source: 'sea', target: 'cn' }, pricing, topology),
      true,
    );
  });

  it('the hub forwards spoke-originated rows to other spokes only where the flow says so', () => {
    const topology = defaultTopology();
    assert.deepEqual([...reach(topology, 'pricing', 'sea')].sort(), ['cn', 'eu', 'latam', 'sea']);
    assert.deepEqual([...reach(topology, 'pricing', 'cn')].sort(), ['cn', 'eu', 'latam', 'sea']);
    assert.deepEqual([...reach(topology, 'orders', 'eu')].sort(), ['cn', 'eu']);
    assert.deepEqual([...reach(topology, 'promotions', 'cn')].sort(), ['cn', 'eu', 'latam', 'sea']);
    assert.deepEqual([...reach(topology, 'promotions', 'sea')].sort(), ['sea']);
    const noForward: Topology = {
      ...topology,
      flows: topology.flows.map((f) => (f.name === 'pricing' ? { ...f, forwardSpokeOrigins: false } : f)),
    };
    assert.deepEqual([...reach(noForward, 'pricing', 'sea')].sort(), ['cn', 'sea']);
  });

  it("a link's origin filter (counted in SQL) sends exactly the origins shouldSend sends", () => {
    const topology = defaultTopology();
    const origins = [...topology.regions.map((r) => r.id), 'unknown-region'];
    const pricing = flowOf(topology, 'pricing'); // bidirectional: hub and spoke sources
    let checked = 0;
    for (const forwardSpokeOrigins of [true, false]) {
      const flow = { ...pricing, forwardSpokeOrigins };
      const links = linksOf(topology, flow);
      assert.deepEqual(new Set(links.map((l) => l.source === 'cn')), new Set([true, false]));
      for (const link of links) {
        const filter = sentOrigins(link, flow, topology);
        for (const origin of origins) {
          const what = `${link.source}>${link.target} forward=${forwardSpokeOrigins} origin=${origin}`;
          assert.equal(originPasses(filter, origin), shouldSend(origin, link, flow, topology), what);
          checked++;
        }
      }
    }
    assert.equal(checked, 2 * 6 * 5);
    // The shapes a store turns into SQL.
    const sea = { flow: 'pricing', source: 'cn', target: 'sea' };
    assert.deepEqual(sentOrigins(sea, pricing, topology), { notIn: ['sea'] });
    assert.deepEqual(sentOrigins(sea, { ...pricing, forwardSpokeOrigins: false }, topology), { in: ['cn'] });
    assert.deepEqual(sentOrigins({ ...sea, source: 'sea', target: 'cn' }, pricing, topology), {
      in: ['sea'],
    });
  });
});

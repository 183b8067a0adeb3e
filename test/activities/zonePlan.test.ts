/** Push model: with a zone, a batch run and the status endpoint cover only the zone's outgoing links. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LinkId } from '../../sync/model';
import { createFlowStatus } from '../../activities/flowStatus';
import { createPlanFlow } from '../../activities/planFlow';
import type { SyncRuntime } from '../../activities/runtime';
import { loadConfig } from '../../config/loadConfig';
import type { CountChangesRequest } from '../../sync/ports';
import { originPasses } from '../../sync/routing';

const topology = loadConfig({ REGION_SYNC_PSEUDONYM_KEY: Buffer.alloc(32, 9).toString('base64') }).topology;
const label = (l: LinkId) => `${l.source}>${l.target}`;

async function planned(zone: string | null, flow: string, regions?: string[]) {
  const p = await createPlanFlow({ topology, zone })(regions === undefined ? { flow } : { flow, regions });
  assert.equal(p.kind, 'planned');
  if (p.kind !== 'planned') return { inbound: [], outbound: [] };
  return { inbound: p.inbound.map(label), outbound: p.outbound.map(label) };
}

describe('planFlow with a zone', () => {
  it('a spoke runs only its links into the hub', async () => {
    assert.deepEqual(await planned('sea', 'pricing'), { inbound: ['sea>cn'], outbound: [] });
    assert.deepEqual(await planned('eu', 'orders'), { inbound: ['eu>cn'], outbound: [] });
    assert.deepEqual(await planned('eu', 'promotions'), { inbound: [], outbound: [] });
  });

  it('the hub runs only its links into the spokes, still narrowed by the requested regions', async () => {
    assert.deepEqual(await planned('cn', 'pricing'), {
      inbound: [],
      outbound: ['cn>sea', 'cn>eu', 'cn>latam'],
    });
    assert.deepEqual(await planned('cn', 'orders'), { inbound: [], outbound: [] });
    assert.deepEqual(await planned('cn', 'pricing', ['eu']), { inbound: [], outbound: ['cn>eu'] });
  });

  it('without a zone, every link as before', async () => {
    assert.deepEqual(await planned(null, 'pricing'), {
      inbound: ['sea>cn', 'eu>cn', 'latam>cn'],
      outbound: ['cn>sea', 'cn>eu', 'cn>latam'],
    });
  });

  it('the status endpoint shows only the zone outgoing links', async () => {
    const opened: string[] = [];
    const store = (region: string) => {
      opened.push(region);
      return Promise.resolve({
        highWaterMark: () => Promise.resolve('0'),
        getCheckpoint: () => Promise.resolve(null),
      } as unknown as Awaited<ReturnType<SyncRuntime['store']>>);
    };
    const status = createFlowStatus({ topology, zone: 'latam', store, now: () => new Date() });
    assert.deepEqual((await status('pricing')).map(label), ['latam>cn']);
    assert.deepEqual([...new Set(opened)].sort(), ['cn', 'latam']);
  });
});

describe('flow status lag', () => {
  /** A source whose changes above the checkpoint came from `origins` (one change each). */
  const fakeStore =
    (hwm: string, change: string | null, origins: string[] = []) =>
    () =>
      Promise.resolve({
        highWaterMark: () => Promise.resolve(hwm),
        countChanges: (request: CountChangesRequest) =>
          Promise.resolve({
            count: origins.filter((o) => originPasses(request.origins, o)).length,
            capped: false,
          }),
        getCheckpoint: () =>
          Promise.resolve(
            change === null
              ? null
              : { cursor: { change, key: [] }, runId: 'r1', updatedAt: '2026-12-04T10:00:00.000Z' },
          ),
      } as unknown as Awaited<ReturnType<SyncRuntime['store']>>);
  const now = () => new Date('2026-12-04T12:00:00.000Z');

  it('reads 0 seconds when a link is caught up, however long ago the checkpoint moved', async () => {
    const status = createFlowStatus({ topology, zone: 'latam', store: fakeStore('42', '42'), now });
    for (const t of (await status('pricing'))[0]?.tables ?? []) {
      assert.equal(t.lagChanges, 0);
      assert.equal(t.lagSeconds, 0);
    }
  });

  it('is caught up when the only newer changes are rows the source received from the target', async () => {
    // latam -> cn: latam's newer changes are rows the hub sent it; loop prevention keeps them home.
    const status = createFlowStatus({
      topology,
      zone: 'latam',
      store: fakeStore('50', '42', ['cn', 'cn']),
      now,
    });
    const t = (await status('pricing'))[0]?.tables[0];
    assert.deepEqual([t?.lagChanges, t?.lagSeconds], [0, 0]);
  });

  it('counts the changes that will cross and the time since the checkpoint moved while they wait', async () => {
    const status = createFlowStatus({
      topology,
      zone: 'latam',
      store: fakeStore('50', '42', ['latam', 'cn', 'latam']),
      now,
    });
    const t = (await status('pricing'))[0]?.tables[0];
    assert.equal(t?.lagChanges, 2);
    assert.equal(t?.lagSeconds, 7200);
    const fresh = createFlowStatus({ topology, zone: 'latam', store: fakeStore('50', null, ['latam']), now });
    assert.equal((await fresh('pricing'))[0]?.tables[0]?.lagSeconds, null);
  });
});

import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { SyncRuntime } from '../activities/runtime.js';
import { tableMappingFor } from '../sync/topology.js';

export interface HealthCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/** Every check answers within this bound, so a probe never hangs on a dependency. */
const CHECK_TIMEOUT_MS = 5000;

function within<T>(what: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([what, timeout]).finally(() => clearTimeout(timer));
}

async function check(name: string, run: () => Promise<string>): Promise<HealthCheck> {
  try {
    return { name, ok: true, detail: await within(run(), CHECK_TIMEOUT_MS) };
  } catch (e) {
    return { name, ok: false, detail: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * Health of the app's own dependencies: the staging storage and each regional store it has,
 * each asked now. 200 when all answer, 503 naming what is wrong otherwise (the same on Azure,
 * where a platform health check can use it).
 */
export function createHealth(runtime: SyncRuntime) {
  return async (_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> => {
    const table = runtime.topology.flows[0]?.tables[0];
    const checks = await Promise.all([
      check('staging storage', async () => {
        await runtime.staging.probe(CHECK_TIMEOUT_MS);
        return 'answers';
      }),
      ...runtime.regions.map((region) =>
        check(`region ${region}`, async () => {
          const store = await runtime.store(region);
          if (table !== undefined) await store.highWaterMark(tableMappingFor(table, region));
          return 'answers';
        }),
      ),
    ]);
    const ok = checks.every((c) => c.ok);
    return {
      status: ok ? 200 : 503,
      jsonBody: { status: ok ? 'ok' : 'unhealthy', service: 'region-sync', checks },
    };
  };
}

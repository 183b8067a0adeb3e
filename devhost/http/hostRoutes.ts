import FindMyWay from 'find-my-way';
import type { HostRouteHandler, HostRoutes } from '../extension';
import { compileRouteTemplate, type CompiledRoute } from './routeTemplate';

interface HostRouteEntry {
  route: CompiledRoute;
  handler: HostRouteHandler;
}

export interface HostRouteMatch {
  handler: HostRouteHandler;
  params: Record<string, string>;
}

/**
 * devhost's own routes (admin API, Durable HTTP API, broker admin). They use the same template
 * syntax as function routes, without the route prefix, and are checked before function routes,
 * as the Functions host reserves /admin and /runtime.
 */
export class HostRouteTable implements HostRoutes {
  readonly #router = FindMyWay<FindMyWay.HTTPVersion.V1>({ caseSensitive: false, ignoreTrailingSlash: true });
  #origin = '';

  get origin(): string {
    if (!this.#origin) throw new Error('The host origin is known only once the host listens.');
    return this.#origin;
  }

  setOrigin(origin: string): void {
    this.#origin = origin;
  }

  add(method: string | string[], pattern: string, handler: HostRouteHandler): void {
    const methods = (Array.isArray(method) ? method : [method]).map((m) => m.toUpperCase());
    const route = compileRouteTemplate(pattern, '');
    const entry: HostRouteEntry = { route, handler };
    for (const path of route.paths) {
      this.#router.on(methods as FindMyWay.HTTPMethod[], path, () => undefined, entry);
    }
  }

  /** The route for `method` and `path`, 'method' when the path exists with other methods only. */
  match(method: string, path: string): HostRouteMatch | 'method' | undefined {
    const found = this.#router.find(method.toUpperCase() as FindMyWay.HTTPMethod, path);
    if (found) {
      const entry = found.store as HostRouteEntry;
      const params: Record<string, string> = {};
      for (const [key, value] of Object.entries(found.params)) {
        if (value === undefined) continue;
        if (key === '*') {
          if (entry.route.catchAll && value !== '') params[entry.route.catchAll] = value;
        } else params[key] = value;
      }
      return { handler: entry.handler, params };
    }
    for (const other of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS']) {
      if (this.#router.find(other as FindMyWay.HTTPMethod, path)) return 'method';
    }
    return undefined;
  }
}

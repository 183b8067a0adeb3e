import type { HostRouteHandler, HostRoutes } from '../extension';
import { HTTP_METHODS, TemplateRouter } from './templateRouter';

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
  readonly #router = new TemplateRouter<HostRouteHandler>();
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
    const unknown = methods.filter((m) => !HTTP_METHODS.includes(m));
    if (unknown.length > 0)
      throw new Error(`Host route ${pattern}: unknown method(s) ${unknown.join(', ')}.`);
    this.#router.add(methods, pattern, '', handler);
  }

  /** The route for `method` and `path`; 'method' when the path exists with other methods only. */
  match(method: string, path: string): HostRouteMatch | 'method' | undefined {
    const found = this.#router.find(method, path);
    if (found) return { handler: found.value, params: found.params };
    return this.#router.allowedMethods(path).length > 0 ? 'method' : undefined;
  }
}

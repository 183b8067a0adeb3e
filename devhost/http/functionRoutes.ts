import FindMyWay from 'find-my-way';
import type { Logger } from '../logger';
import type { RegisteredFunction } from '../worker/coreApi';
import { triggerBinding } from '../worker/invoker';
import { checkConstraints, compileRouteTemplate, type CompiledRoute } from './routeTemplate';

/** The methods an httpTrigger may list (the Functions host's HttpMethod enum). */
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT'];

export interface HttpFunctionRoute {
  fn: RegisteredFunction;
  route: CompiledRoute;
  methods: string[];
  /** The URL path users call, e.g. `/api/items/{id:int}`. */
  displayPath: string;
}

export type RouteLookup =
  | { kind: 'match'; entry: HttpFunctionRoute; params: Record<string, string> }
  | { kind: 'method'; allowed: string[] }
  | { kind: 'none' };

/** The app's HTTP-triggered functions, matched on method and path by find-my-way. */
export class FunctionRouteTable {
  readonly #router = FindMyWay<FindMyWay.HTTPVersion.V1>({ caseSensitive: false, ignoreTrailingSlash: true });
  readonly entries: HttpFunctionRoute[] = [];

  constructor(
    readonly routePrefix: string,
    private readonly logger: Logger,
  ) {}

  /** Adds an HTTP function. Throws a RouteTemplateError for a template devhost cannot read. */
  add(fn: RegisteredFunction): HttpFunctionRoute {
    const [, binding] = triggerBinding(fn);
    const template =
      typeof binding.route === 'string' && binding.route !== '' ? binding.route : fn.metadata.name;
    const route = compileRouteTemplate(template, this.routePrefix);
    const listed = Array.isArray(binding.methods)
      ? (binding.methods as unknown[]).map((m) => String(m).toUpperCase())
      : [];
    // No methods listed means every method, as in the Functions host.
    const methods = listed.length > 0 ? listed.filter((m) => HTTP_METHODS.includes(m)) : HTTP_METHODS;
    const displayPath = `/${[this.routePrefix, template.replace(/^\/+/, '')].filter((p) => p !== '').join('/')}`;
    const entry: HttpFunctionRoute = { fn, route, methods, displayPath };
    for (const method of methods) {
      for (const path of route.paths) {
        if (this.#router.hasRoute(method as FindMyWay.HTTPMethod, path)) {
          this.logger.warn(
            'Host.Startup',
            `Function "${fn.metadata.name}": ${method} ${displayPath} is already served by another function; this one is unreachable for it.`,
          );
          continue;
        }
        try {
          this.#router.on(method as FindMyWay.HTTPMethod, path, () => undefined, entry);
        } catch (err) {
          this.logger.warn(
            'Host.Startup',
            `Function "${fn.metadata.name}": ${method} ${displayPath} conflicts with another route (${(err as Error).message}).`,
          );
        }
      }
    }
    this.entries.push(entry);
    return entry;
  }

  lookup(method: string, path: string): RouteLookup {
    const upper = method.toUpperCase();
    const hit = this.#find(upper, path);
    if (hit) return hit;
    const allowed = HTTP_METHODS.filter((m) => m !== upper && this.#find(m, path));
    return allowed.length > 0 ? { kind: 'method', allowed } : { kind: 'none' };
  }

  #find(method: string, path: string): Extract<RouteLookup, { kind: 'match' }> | undefined {
    if (!HTTP_METHODS.includes(method)) return undefined;
    const found = this.#router.find(method as FindMyWay.HTTPMethod, path);
    if (!found) return undefined;
    const entry = found.store as HttpFunctionRoute;
    const params = checkConstraints(entry.route, found.params);
    return params ? { kind: 'match', entry, params } : undefined;
  }
}

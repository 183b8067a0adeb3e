import type { RegisteredFunction } from '../worker/coreApi';
import { triggerBinding } from '../worker/invoker';
import type { CompiledRoute } from './routeTemplate';
import { HTTP_METHODS, TemplateRouter } from './templateRouter';

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

/** The app's HTTP-triggered functions under the host.json route prefix. */
export class FunctionRouteTable {
  readonly #router = new TemplateRouter<HttpFunctionRoute>();
  readonly entries: HttpFunctionRoute[] = [];

  constructor(readonly routePrefix: string) {}

  /** Adds an HTTP function. Throws a RouteTemplateError for a template devhost cannot read. */
  add(fn: RegisteredFunction): HttpFunctionRoute {
    const [, binding] = triggerBinding(fn);
    const template =
      typeof binding.route === 'string' && binding.route.trim() !== '' ? binding.route : fn.metadata.name;
    const listed = Array.isArray(binding.methods)
      ? (binding.methods as unknown[]).map((m) => String(m).toUpperCase())
      : [];
    // No methods listed means every method, as in the Functions host.
    const methods = listed.length > 0 ? listed.filter((m) => HTTP_METHODS.includes(m)) : HTTP_METHODS;
    const displayPath = `/${[this.routePrefix, template.replace(/^\/+/, '')].filter((p) => p !== '').join('/')}`;
    const entry = { fn, methods, displayPath } as HttpFunctionRoute;
    entry.route = this.#router.add(methods, template, this.routePrefix, entry);
    this.entries.push(entry);
    return entry;
  }

  lookup(method: string, path: string): RouteLookup {
    const found = this.#router.find(method, path);
    if (found) return { kind: 'match', entry: found.value, params: found.params };
    const allowed = this.#router.allowedMethods(path);
    return allowed.length > 0 ? { kind: 'method', allowed } : { kind: 'none' };
  }
}

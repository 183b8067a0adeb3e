import FindMyWay from 'find-my-way';
import { checkConstraints, compileRouteTemplate, type CompiledRoute } from './routeTemplate';

/** The methods a route may list (the Functions host's HttpMethod enum). */
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT'];

interface Candidate<T> {
  route: CompiledRoute;
  value: T;
  order: number;
}

export interface TemplateMatch<T> {
  value: T;
  route: CompiledRoute;
  params: Record<string, string>;
}

/**
 * Azure route templates on top of find-my-way: find-my-way finds the route shape for a method and
 * path (case-insensitive, trailing slash ignored); the candidates registered for that shape are
 * tried most-constrained first against their constraints.
 */
export class TemplateRouter<T> {
  // ASP.NET routing has no limit per segment (find-my-way's default is 100 characters, which
  // turned Durable instance ids of 101-256 characters into 404s); Kestrel caps the request line at 8 KB.
  readonly #router = FindMyWay<FindMyWay.HTTPVersion.V1>({
    caseSensitive: false,
    ignoreTrailingSlash: true,
    maxParamLength: 8192,
  });
  readonly #shapes = new Map<string, Candidate<T>[]>();
  #order = 0;

  /** Registers `template` (under `prefix`) for `methods`. Throws RouteTemplateError on a bad template. */
  add(methods: readonly string[], template: string, prefix: string, value: T): CompiledRoute {
    const route = compileRouteTemplate(template, prefix);
    const order = this.#order++;
    for (const method of methods) {
      for (const path of route.paths) {
        const key = `${method} ${path.toLowerCase()}`;
        let candidates = this.#shapes.get(key);
        if (!candidates) {
          candidates = [];
          this.#shapes.set(key, candidates);
          this.#router.on(method as FindMyWay.HTTPMethod, path, () => undefined, candidates);
        }
        candidates.push({ route, value, order });
        candidates.sort((a, b) => b.route.specificity - a.route.specificity || a.order - b.order);
      }
    }
    return route;
  }

  find(method: string, path: string): TemplateMatch<T> | undefined {
    const upper = method.toUpperCase();
    if (!HTTP_METHODS.includes(upper)) return undefined;
    const found = this.#router.find(upper as FindMyWay.HTTPMethod, path);
    if (!found) return undefined;
    for (const candidate of found.store as Candidate<T>[]) {
      const params = checkConstraints(candidate.route, found.params);
      if (params) return { value: candidate.value, route: candidate.route, params };
    }
    return undefined;
  }

  /** The methods under which `path` matches some route (for 405 answers). */
  allowedMethods(path: string): string[] {
    return HTTP_METHODS.filter((m) => this.find(m, path) !== undefined);
  }
}

/**
 * Azure Functions route templates (ASP.NET routing syntax) translated to find-my-way paths.
 *
 * Supported: literal segments (case-insensitive), `{name}`, several parameters in one segment
 * (`{a}-{b}`), constraints `{id:int}` (int, long, bool, alpha, guid, decimal, double, float,
 * datetime, minlength(n), maxlength(n), length(n|min,max), min(n), max(n), range(min,max),
 * regex(expr)), optional trailing parameters `{x?}`, defaults `{x=value}` and catch-all
 * `{*rest}` / `{**rest}` as the last segment.
 *
 * find-my-way matches the structure of a path (literal segments, parameter positions, catch-all)
 * with its static > parameter > wildcard precedence, which mirrors ASP.NET's. Parameters are
 * registered under positional names (p0, p1, ...), because find-my-way treats two routes that
 * differ only in parameter names or regexes as the same route; `items/{id:int}` and
 * `items/{name:alpha}` therefore share one find-my-way route, and `checkConstraints` picks the
 * template whose constraints the values satisfy.
 */

export class RouteTemplateError extends Error {
  override readonly name = 'RouteTemplateError';
}

interface Constraint {
  name: string;
  args: string[];
}

interface ParamToken {
  kind: 'param';
  name: string;
  constraints: Constraint[];
  optional: boolean;
  defaultValue?: string;
  catchAll: boolean;
}

type Token = { kind: 'literal'; text: string } | ParamToken;

export interface CompiledRoute {
  template: string;
  /** find-my-way paths to register, longest first (optional parts expand to several). */
  paths: string[];
  params: ParamToken[];
  /** Template parameter names by position: find-my-way reports `p<i>` for `positional[i]`. */
  positional: string[];
  /** The catch-all parameter's name, reported by find-my-way as '*'. */
  catchAll?: string;
  /** How many parameters carry constraints: among routes of one shape, more constrained wins. */
  specificity: number;
}

/** What a value of each typed constraint looks like (ASP.NET route constraint semantics). */
const SHAPE: Record<string, string> = {
  int: '-?\\d+',
  long: '-?\\d+',
  min: '-?\\d+',
  max: '-?\\d+',
  range: '-?\\d+',
  alpha: '[A-Za-z]+',
  bool: '[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]',
  guid: '[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}',
  decimal: '-?\\d+(?:\\.\\d+)?',
  double: '-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?',
  float: '-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?',
};

const KNOWN = new Set([
  ...Object.keys(SHAPE),
  'datetime',
  'minlength',
  'maxlength',
  'length',
  'regex',
  'required',
]);

export function compileRouteTemplate(template: string, prefix: string): CompiledRoute {
  const cleaned = template.replace(/^\/+|\/+$/g, '');
  const segments = cleaned === '' ? [] : splitSegments(cleaned);
  const parsed = segments.map((segment) => parseSegment(segment, template));
  const params: ParamToken[] = [];
  let catchAll: string | undefined;
  parsed.forEach((tokens, index) => {
    for (const token of tokens) {
      if (token.kind !== 'param') continue;
      if (params.some((p) => p.name.toLowerCase() === token.name.toLowerCase())) {
        throw new RouteTemplateError(`Route "${template}" uses the parameter "${token.name}" twice.`);
      }
      params.push(token);
      if (token.catchAll) {
        if (index !== parsed.length - 1 || tokens.length !== 1) {
          throw new RouteTemplateError(
            `Route "${template}": a catch-all parameter must be the whole last segment.`,
          );
        }
        catchAll = token.name;
      }
      if ((token.optional || token.defaultValue !== undefined) && tokens.length !== 1) {
        throw new RouteTemplateError(
          `Route "${template}": an optional parameter must be a segment of its own.`,
        );
      }
    }
  });

  // Optional parts must be trailing; every trailing optional segment may be left out.
  let required = parsed.length;
  while (required > 0 && isOptionalSegment(parsed[required - 1]!)) required--;
  for (let i = 0; i < required; i++) {
    if (isOptionalSegment(parsed[i]!)) {
      throw new RouteTemplateError(`Route "${template}": only the last segments of a route can be optional.`);
    }
  }

  const positional = params.filter((p) => !p.catchAll).map((p) => p.name);
  const base = prefix === '' ? '' : '/' + escapeLiteral(prefix);
  const paths: string[] = [];
  for (let count = parsed.length; count >= required; count--) {
    let index = 0;
    const parts = parsed.slice(0, count).map(
      (tokens) =>
        '/' +
        tokens
          .map((token) => {
            if (token.kind === 'literal') return escapeLiteral(token.text);
            if (token.catchAll) return '*';
            return `:p${index++}`;
          })
          .join(''),
    );
    paths.push(base + parts.join('') || '/');
  }
  const specificity = params.filter((p) => p.constraints.length > 0).length;
  return { template, paths, params, positional, specificity, ...(catchAll ? { catchAll } : {}) };
}

/**
 * Maps find-my-way's positional values back to the template's names, checks every constraint and
 * fills defaults. Undefined means the values do not satisfy this template.
 */
export function checkConstraints(
  route: CompiledRoute,
  matched: Record<string, string | undefined>,
): Record<string, string> | undefined {
  const values: Record<string, string> = {};
  for (const param of route.params) {
    const position = route.positional.indexOf(param.name);
    let value = param.catchAll ? matched['*'] : matched[`p${position}`];
    if (param.catchAll && value === '') value = undefined;
    if (value === undefined) {
      if (param.defaultValue !== undefined) values[param.name] = param.defaultValue;
      continue;
    }
    for (const constraint of param.constraints) {
      if (!satisfies(constraint, value)) return undefined;
    }
    values[param.name] = value;
  }
  return values;
}

function satisfies({ name, args }: Constraint, value: string): boolean {
  const num = (i: number) => Number(args[i]);
  switch (name) {
    case 'int':
      return /^-?\d+$/.test(value) && Number(value) >= -(2 ** 31) && Number(value) < 2 ** 31;
    case 'long':
      return /^-?\d+$/.test(value) && BigInt(value) >= -(2n ** 63n) && BigInt(value) < 2n ** 63n;
    case 'alpha':
      return /^[a-z]+$/i.test(value);
    case 'bool':
      return /^(true|false)$/i.test(value);
    case 'guid':
      return new RegExp(`^(?:${SHAPE.guid})$`).test(value);
    case 'decimal':
    case 'double':
    case 'float':
      return new RegExp(`^(?:${SHAPE[name]})$`).test(value);
    case 'datetime':
      return !Number.isNaN(Date.parse(value));
    case 'minlength':
      return value.length >= num(0);
    case 'maxlength':
      return value.length <= num(0);
    case 'length':
      return args.length === 1 ? value.length === num(0) : value.length >= num(0) && value.length <= num(1);
    case 'min':
      return /^-?\d+$/.test(value) && Number(value) >= num(0);
    case 'max':
      return /^-?\d+$/.test(value) && Number(value) <= num(0);
    case 'range':
      return /^-?\d+$/.test(value) && Number(value) >= num(0) && Number(value) <= num(1);
    case 'regex':
      // ASP.NET evaluates route regexes case-insensitively and unanchored.
      return new RegExp(args.join(','), 'i').test(value);
    default:
      return true;
  }
}

function isOptionalSegment(tokens: Token[]): boolean {
  const only = tokens.length === 1 ? tokens[0] : undefined;
  return only?.kind === 'param' && (only.optional || only.defaultValue !== undefined || only.catchAll);
}

function escapeLiteral(text: string): string {
  return text.replace(/:/g, '::');
}

/** Splits on '/' outside braces (a regex constraint may contain '/'-free but brace-heavy text). */
function splitSegments(template: string): string[] {
  const segments: string[] = [];
  let depth = 0;
  let current = '';
  for (let i = 0; i < template.length; i++) {
    const ch = template[i]!;
    if (ch === '{' && template[i + 1] === '{') {
      current += '{{';
      i++;
      continue;
    }
    if (ch === '}' && template[i + 1] === '}' && depth === 0) {
      current += '}}';
      i++;
      continue;
    }
    if (ch === '{') depth++;
    if (ch === '}') depth--;
    if (ch === '/' && depth === 0) {
      segments.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  segments.push(current);
  if (segments.some((s) => s === ''))
    throw new RouteTemplateError(`Route "${template}" has an empty segment.`);
  return segments;
}

function parseSegment(segment: string, template: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let literal = '';
  while (i < segment.length) {
    const ch = segment[i]!;
    if (ch === '{' && segment[i + 1] === '{') {
      literal += '{';
      i += 2;
      continue;
    }
    if (ch === '}' && segment[i + 1] === '}') {
      literal += '}';
      i += 2;
      continue;
    }
    if (ch === '{') {
      if (literal) tokens.push({ kind: 'literal', text: literal });
      literal = '';
      const end = findParamEnd(segment, i + 1);
      if (end < 0) throw new RouteTemplateError(`Route "${template}" has an unclosed "{".`);
      tokens.push(
        parseParam(
          segment
            .slice(i + 1, end)
            .replace(/\{\{/g, '{')
            .replace(/\}\}/g, '}'),
          template,
        ),
      );
      i = end + 1;
      continue;
    }
    if (ch === '}') throw new RouteTemplateError(`Route "${template}" has an unmatched "}".`);
    literal += ch;
    i++;
  }
  if (literal) tokens.push({ kind: 'literal', text: literal });
  for (let t = 1; t < tokens.length; t++) {
    if (tokens[t]!.kind === 'param' && tokens[t - 1]!.kind === 'param') {
      throw new RouteTemplateError(`Route "${template}": two parameters need a literal between them.`);
    }
  }
  return tokens;
}

/** The closing brace of a parameter, skipping `}}` escapes and parenthesised constraint arguments. */
function findParamEnd(segment: string, from: number): number {
  let parens = 0;
  for (let i = from; i < segment.length; i++) {
    const ch = segment[i]!;
    if (ch === '(') parens++;
    else if (ch === ')') parens = Math.max(0, parens - 1);
    else if (ch === '}') {
      if (segment[i + 1] === '}') {
        i++;
        continue;
      }
      if (parens === 0) return i;
    }
  }
  return -1;
}

function parseParam(body: string, template: string): ParamToken {
  let text = body.trim();
  let catchAll = false;
  if (text.startsWith('**')) {
    catchAll = true;
    text = text.slice(2);
  } else if (text.startsWith('*')) {
    catchAll = true;
    text = text.slice(1);
  }
  let defaultValue: string | undefined;
  const eq = indexOutsideParens(text, '=');
  if (eq >= 0) {
    defaultValue = text.slice(eq + 1);
    text = text.slice(0, eq);
  }
  let optional = false;
  if (text.endsWith('?')) {
    optional = true;
    text = text.slice(0, -1);
  }
  const parts = splitConstraints(text);
  const name = parts.shift() ?? '';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new RouteTemplateError(`Route "${template}" has an invalid parameter name "${name}".`);
  }
  const constraints = parts.map((part): Constraint => {
    const open = part.indexOf('(');
    const cname = (open < 0 ? part : part.slice(0, open)).toLowerCase();
    const args = open < 0 ? [] : splitArgs(cname, part.slice(open + 1, part.lastIndexOf(')')));
    if (!KNOWN.has(cname)) {
      throw new RouteTemplateError(`Route "${template}" uses the unknown constraint "${cname}".`);
    }
    return { name: cname, args };
  });
  return {
    kind: 'param',
    name,
    constraints,
    optional,
    catchAll,
    ...(defaultValue !== undefined ? { defaultValue } : {}),
  };
}

function splitArgs(name: string, inner: string): string[] {
  return name === 'regex' ? [inner] : inner.split(',').map((a) => a.trim());
}

function indexOutsideParens(text: string, ch: string): number {
  let parens = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') parens++;
    else if (text[i] === ')') parens--;
    else if (text[i] === ch && parens === 0) return i;
  }
  return -1;
}

function splitConstraints(text: string): string[] {
  const parts: string[] = [];
  let parens = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') parens++;
    if (ch === ')') parens--;
    if (ch === ':' && parens === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  parts.push(current);
  return parts;
}

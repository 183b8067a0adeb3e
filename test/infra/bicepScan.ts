/**
 * A small structural reader of Bicep files, for checks that need no Bicep compiler (none can be
 * installed on these machines). It understands only what the checks need: top-level statements
 * (param, var, resource, module, output), the keys of object literals, strings and comments. It
 * is not a parser: it assumes files that a compiler would accept and looks at their shape.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface BicepParam {
  readonly name: string;
  readonly type: string;
  /** The default value's source text, or null when the parameter is required. */
  readonly defaultText: string | null;
}

export interface BicepModuleCall {
  readonly symbol: string;
  /** Path as written ('app/functionApp.bicep'). */
  readonly path: string;
  /** Absolute path of the module file. */
  readonly file: string;
  /** Names passed in its `params: { ... }` block. */
  readonly paramKeys: readonly string[];
}

export interface BicepResource {
  readonly symbol: string;
  readonly type: string;
  readonly apiVersion: string;
  readonly existing: boolean;
}

export interface BicepFile {
  readonly file: string;
  /** Source with comments blanked out (strings and line numbers kept). */
  readonly code: string;
  readonly targetScope: string | null;
  readonly params: ReadonlyMap<string, BicepParam>;
  readonly vars: ReadonlyMap<string, string>;
  readonly outputs: ReadonlySet<string>;
  readonly modules: readonly BicepModuleCall[];
  readonly resources: readonly BicepResource[];
}

/** Blanks `//` and `/* *\/` comments, leaving strings ('...', '''...''') and newlines intact. */
export function stripComments(source: string): string {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (source.startsWith("'''", i)) {
      const end = source.indexOf("'''", i + 3);
      const stop = end === -1 ? source.length : end + 3;
      out += source.slice(i, stop);
      i = stop;
    } else if (c === "'") {
      let j = i + 1;
      while (j < source.length && source[j] !== "'") j += source[j] === '\\' ? 2 : 1;
      out += source.slice(i, j + 1);
      i = j + 1;
    } else if (source.startsWith('//', i)) {
      while (i < source.length && source[i] !== '\n') {
        out += ' ';
        i++;
      }
    } else if (source.startsWith('/*', i)) {
      const end = source.indexOf('*/', i + 2);
      const stop = end === -1 ? source.length : end + 2;
      out += source.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Bracket depth change of one line of comment-free code, ignoring brackets inside strings. */
function depthDelta(line: string): number {
  let d = 0;
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === "'") inString = false;
    } else if (c === "'") inString = true;
    else if (c === '{' || c === '[' || c === '(') d++;
    else if (c === '}' || c === ']' || c === ')') d--;
  }
  return d;
}

const STATEMENT = /^(param|var|resource|module|output|targetScope|metadata|type|func|import|@)/;

/** Splits comment-free code into top-level statements (decorators are statements of their own). */
export function topLevelStatements(code: string): string[] {
  const statements: string[] = [];
  let current: string[] = [];
  let depth = 0;
  for (const line of code.split('\n')) {
    const trimmed = line.trim();
    if (depth === 0 && STATEMENT.test(trimmed)) {
      if (current.length > 0) statements.push(current.join('\n'));
      current = [];
    }
    current.push(line);
    depth += depthDelta(line);
  }
  if (current.length > 0) statements.push(current.join('\n'));
  return statements.map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * Keys of the object literal that opens at `openIndex` (the index of its '{'), one level deep.
 * Each value is returned as source text, so nested objects can be read in turn.
 */
export function objectEntries(code: string, openIndex: number): Map<string, string> {
  const entries = new Map<string, string>();
  const keyAt = /\s*([A-Za-z_][A-Za-z0-9_]*|'[^'\n]*')[ \t]*:(?!:)/y;
  let depth = 0;
  let atEntryStart = false;
  let currentKey: string | null = null;
  let valueStart = -1;
  const close = (end: number): void => {
    if (currentKey !== null) entries.set(currentKey, code.slice(valueStart, end).trim());
    currentKey = null;
  };
  for (let i = openIndex; i < code.length; i++) {
    if (depth === 1 && atEntryStart) {
      atEntryStart = false;
      keyAt.lastIndex = i;
      const m = keyAt.exec(code);
      if (m !== null && m[1] !== undefined) {
        close(i);
        currentKey = m[1].replace(/^'|'$/g, '');
        valueStart = keyAt.lastIndex;
        i = keyAt.lastIndex - 1;
        continue;
      }
    }
    const c = code[i];
    if (c === "'") {
      let j = i + 1;
      while (j < code.length && code[j] !== "'") j += code[j] === '\\' ? 2 : 1;
      i = j;
    } else if (c === '{' || c === '[' || c === '(') {
      depth++;
      if (depth === 1) atEntryStart = true;
    } else if (c === '}' || c === ']' || c === ')') {
      depth--;
      if (depth === 0) {
        close(i);
        break;
      }
    } else if (depth === 1 && (c === '\n' || c === ',')) {
      atEntryStart = true;
    }
  }
  return entries;
}

/** The index of the first '{' after `from` at the same statement, or -1. */
function nextBrace(code: string, from: number): number {
  return code.indexOf('{', from);
}

export function readBicep(file: string): BicepFile {
  const code = stripComments(readFileSync(file, 'utf8'));
  const params = new Map<string, BicepParam>();
  const vars = new Map<string, string>();
  const outputs = new Set<string>();
  const modules: BicepModuleCall[] = [];
  const resources: BicepResource[] = [];
  let targetScope: string | null = null;
  for (const statement of topLevelStatements(code)) {
    let m: RegExpExecArray | null;
    if ((m = /^targetScope\s*=\s*'([^']+)'/.exec(statement)) !== null) {
      targetScope = m[1] ?? null;
    } else if ((m = /^param\s+(\w+)\s+([^=\s]+)\s*(?:=\s*([\s\S]*))?$/.exec(statement)) !== null) {
      const [, name = '', type = '', defaultText] = m;
      params.set(name, { name, type, defaultText: defaultText === undefined ? null : defaultText.trim() });
    } else if ((m = /^var\s+(\w+)\s*=\s*([\s\S]*)$/.exec(statement)) !== null) {
      vars.set(m[1] ?? '', (m[2] ?? '').trim());
    } else if ((m = /^output\s+(\w+)\s/.exec(statement)) !== null) {
      outputs.add(m[1] ?? '');
    } else if ((m = /^module\s+(\w+)\s+'([^']+)'/.exec(statement)) !== null) {
      const [, symbol = '', path = ''] = m;
      const at = /\bparams\s*:\s*\{/.exec(statement);
      const paramKeys =
        at === null ? [] : [...objectEntries(statement, nextBrace(statement, at.index)).keys()];
      modules.push({ symbol, path, file: resolve(dirname(file), path), paramKeys });
    } else if ((m = /^resource\s+(\w+)\s+'([^'@]+)@([^']+)'\s*(existing)?/.exec(statement)) !== null) {
      const [, symbol = '', type = '', apiVersion = '', existing] = m;
      resources.push({ symbol, type, apiVersion, existing: existing !== undefined });
    }
  }
  return { file, code, targetScope, params, vars, outputs, modules, resources };
}

/** Leaf keys (values that are not object literals) of every object literal in `expression`. */
export function leafKeys(expression: string): string[] {
  const keys: string[] = [];
  const visit = (text: string): void => {
    for (let i = 0; i < text.length; i++) {
      if (text[i] === "'") {
        let j = i + 1;
        while (j < text.length && text[j] !== "'") j += text[j] === '\\' ? 2 : 1;
        i = j;
      } else if (text[i] === '{') {
        const entries = objectEntries(text, i);
        for (const [key, value] of entries) {
          if (value.startsWith('{')) visit(value);
          else keys.push(key);
        }
        // skip past this literal
        let depth = 0;
        for (; i < text.length; i++) {
          if (text[i] === "'") {
            let j = i + 1;
            while (j < text.length && text[j] !== "'") j += text[j] === '\\' ? 2 : 1;
            i = j;
          } else if (text[i] === '{') depth++;
          else if (text[i] === '}' && --depth === 0) break;
        }
      }
    }
  };
  visit(expression);
  return keys;
}

/** Reads main.bicep and, recursively, every local module it uses. */
export function readTemplate(mainFile: string): Map<string, BicepFile> {
  const files = new Map<string, BicepFile>();
  const pending = [mainFile];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (files.has(file)) continue;
    let parsed: BicepFile;
    try {
      parsed = readBicep(file);
    } catch {
      continue; // missing files are reported by the structure test
    }
    files.set(file, parsed);
    for (const call of parsed.modules) if (!call.path.startsWith('br')) pending.push(call.file);
  }
  return files;
}

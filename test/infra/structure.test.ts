/**
 * Structural checks of infra/ that need no Bicep compiler: the files a deployment reads exist and
 * agree with each other (modules and their parameters, outputs, parameter file, azure.yaml).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, it } from 'node:test';
import type { BicepFile } from './bicepScan';
import { readTemplate } from './bicepScan';
import { AZD_PROVIDED_VARS, AZD_SERVICE_NAME, BUILT_IN_ROLES } from './expectations';
import {
  ABBREVIATIONS,
  AZURE_YAML,
  DEPLOY_DOC,
  FUNCTION_APP_BICEP,
  MAIN_BICEP,
  MAIN_PARAMETERS,
} from './paths';

const template = readTemplate(MAIN_BICEP);
const main = template.get(MAIN_BICEP) as BicepFile;

interface ParameterFile {
  parameters: Record<string, { value?: unknown }>;
}
const parameterFile = JSON.parse(readFileSync(MAIN_PARAMETERS, 'utf8')) as ParameterFile;
const azureYaml = readFileSync(AZURE_YAML, 'utf8');

/** `${NAME}` or `${NAME=default}` in a parameter value. */
function envReference(value: unknown): { name: string; fallback: string | null } | null {
  if (typeof value !== 'string') return null;
  const m = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?:=([^}]*))?\}$/.exec(value);
  return m === null ? null : { name: m[1] ?? '', fallback: m[2] ?? null };
}

/** A Bicep default as plain text: `'x'` -> x, `1` -> 1, `false` -> false; null when it is an expression. */
function literalDefault(text: string): string | null {
  const m = /^'([^']*)'$/.exec(text);
  if (m !== null) return m[1] ?? '';
  return /^(-?\d+|true|false)$/.test(text) ? text : null;
}

describe('infra structure (no Bicep compiler needed)', () => {
  it('main.bicep deploys at subscription scope, as azd expects for a resource group it creates', () => {
    assert.equal(main.targetScope, 'subscription');
  });

  it('every module that a Bicep file references exists', () => {
    for (const file of template.values()) {
      for (const call of file.modules) {
        assert.ok(
          existsSync(call.file),
          `${basename(file.file)}: module ${call.symbol} -> ${call.path} does not exist`,
        );
      }
    }
  });

  it('every module call passes only parameters the module declares, and all it requires', () => {
    for (const file of template.values()) {
      for (const call of file.modules) {
        const target = template.get(call.file);
        assert.ok(target, `${call.path} was not read`);
        for (const key of call.paramKeys) {
          assert.ok(
            target.params.has(key),
            `${basename(file.file)}: ${call.symbol} passes '${key}', not a param of ${call.path}`,
          );
        }
        for (const param of target.params.values()) {
          if (param.defaultText === null) {
            assert.ok(
              call.paramKeys.includes(param.name),
              `${basename(file.file)}: ${call.symbol} does not pass required param '${param.name}' of ${call.path}`,
            );
          }
        }
      }
    }
  });

  it('every <module>.outputs.<name> reference names an output the module declares', () => {
    for (const file of template.values()) {
      const bySymbol = new Map(file.modules.map((m) => [m.symbol, m]));
      for (const m of file.code.matchAll(/\b(\w+)\.outputs\.(\w+)/g)) {
        const [, symbol = '', output = ''] = m;
        const call = bySymbol.get(symbol);
        assert.ok(call, `${basename(file.file)}: ${symbol}.outputs.${output} refers to no module`);
        const target = template.get(call.file);
        assert.ok(
          target?.outputs.has(output),
          `${basename(file.file)}: ${call.path} has no output '${output}'`,
        );
      }
    }
  });

  it('main.parameters.json gives a value to every required param and names no unknown param', () => {
    for (const param of main.params.values()) {
      if (param.defaultText === null) {
        assert.ok(
          param.name in parameterFile.parameters,
          `required param '${param.name}' missing from main.parameters.json`,
        );
      }
    }
    for (const name of Object.keys(parameterFile.parameters)) {
      assert.ok(
        main.params.has(name),
        `main.parameters.json sets '${name}', which main.bicep does not declare`,
      );
    }
  });

  it('a ${VAR=default} in main.parameters.json has the same default as the Bicep param', () => {
    for (const [name, entry] of Object.entries(parameterFile.parameters)) {
      const ref = envReference(entry.value);
      const param = main.params.get(name);
      if (ref === null || param === undefined || param.defaultText === null) continue;
      const bicepDefault = literalDefault(param.defaultText);
      assert.ok(
        ref.fallback !== null,
        `'${name}' has a Bicep default; give \${${ref.name}} the same one, else an unset variable overrides it`,
      );
      if (bicepDefault !== null) {
        assert.equal(
          ref.fallback,
          bicepDefault,
          `default of '${name}' differs between main.parameters.json and main.bicep`,
        );
      }
    }
  });

  it('every environment variable the parameter file reads is explained in docs/deploy.md', () => {
    const doc = readFileSync(DEPLOY_DOC, 'utf8');
    for (const entry of Object.values(parameterFile.parameters)) {
      const ref = envReference(entry.value);
      if (ref === null || (AZD_PROVIDED_VARS as readonly string[]).includes(ref.name)) continue;
      assert.ok(doc.includes(ref.name), `docs/deploy.md does not mention ${ref.name}`);
    }
  });

  it('azure.yaml deploys service api as a function app with bicep from infra/', () => {
    assert.match(azureYaml, /^services:\s*\n\s+api:\s*$/m);
    assert.match(azureYaml, /^\s+host:\s*function\s*$/m);
    assert.match(azureYaml, /^\s+provider:\s*bicep\s*$/m);
    assert.match(azureYaml, /^\s+path:\s*infra\s*$/m);
    assert.equal(AZD_SERVICE_NAME, 'api');
  });

  it('every variable the azure.yaml hooks read is an output of main.bicep or provided by azd', () => {
    const names = new Set<string>();
    for (const m of azureYaml.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$env:([A-Za-z_][A-Za-z0-9_]*)/g)) {
      names.add(m[1] ?? m[2] ?? '');
    }
    assert.ok(names.size > 0, 'expected hooks that read outputs');
    for (const name of names) {
      assert.ok(
        main.outputs.has(name) || (AZD_PROVIDED_VARS as readonly string[]).includes(name),
        `azure.yaml reads ${name}, which is neither a main.bicep output nor set by azd`,
      );
    }
  });

  it('the Function App carries the azd-service-name tag of the azure.yaml service', () => {
    const app = template.get(FUNCTION_APP_BICEP) as BicepFile;
    assert.match(app.code, /'azd-service-name':\s*serviceName/);
    assert.equal(app.params.get('serviceName')?.defaultText, `'${AZD_SERVICE_NAME}'`);
  });

  it('every abbreviation main.bicep uses is in abbreviations.json', () => {
    const abbreviations = JSON.parse(readFileSync(ABBREVIATIONS, 'utf8')) as Record<string, string>;
    for (const m of main.code.matchAll(/\babbrs\.(\w+)/g)) {
      assert.ok((m[1] ?? '') in abbreviations, `abbreviations.json has no '${m[1]}'`);
    }
  });

  it('every resource declares a dated API version', () => {
    for (const file of template.values()) {
      for (const r of file.resources) {
        assert.match(
          r.apiVersion,
          /^\d{4}-\d{2}-\d{2}(-preview)?$/,
          `${basename(file.file)}: ${r.symbol} '${r.type}@${r.apiVersion}'`,
        );
      }
    }
  });

  it('role definition ids are the built-in ids of the roles they are named after', () => {
    const known = new Set(Object.values(BUILT_IN_ROLES));
    for (const file of template.values()) {
      for (const m of file.code.matchAll(
        /(\w+)\s*[:=]\s*'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'/g,
      )) {
        const [, name = '', id = ''] = m;
        assert.ok(known.has(id), `${basename(file.file)}: ${name} = ${id} is not a role id the tests know`);
        if (name in BUILT_IN_ROLES) assert.equal(id, BUILT_IN_ROLES[name], `${basename(file.file)}: ${name}`);
      }
    }
  });

  it('role assignments go through subscriptionResourceId role definitions and deterministic guid() names', () => {
    for (const file of template.values()) {
      const blocks = file.code
        .split(/\nresource\s+/)
        .filter((b) => /^\w+\s+'Microsoft\.Authorization\/roleAssignments@/.test(b));
      for (const block of blocks) {
        assert.match(
          block,
          /name:\s*guid\(/,
          `${basename(file.file)}: role assignment without a guid() name`,
        );
        assert.match(block, /subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions'/);
        assert.match(
          block,
          /principalType:/,
          `${basename(file.file)}: principalType avoids replication-delay failures`,
        );
      }
    }
  });
});

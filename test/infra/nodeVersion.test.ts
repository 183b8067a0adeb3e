/**
 * One Node version story: package.json `engines`, every package the lock file installs, the Node
 * CI runs on, the Bicep NODE_VERSION and the README agree. (@azure/storage-common 12.5 asks for
 * Node >= 22 while this project, its CI and these machines run Node 20: it is pinned to 12.4.x.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MAIN_BICEP, MAIN_PARAMETERS, REPO_ROOT } from './paths';

interface Semver {
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
  intersects(a: string, b: string): boolean;
}
// npm's own range semantics (semver ships with npm's dependency tree; untyped here).
const semver = createRequire(__filename)('semver') as Semver;

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  engines: { node: string };
};
const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};
const engines = pkg.engines.node;
const lowest = semver.minVersion(engines)?.version ?? '';
const major = (version: string) => version.split('.')[0] ?? '';

describe('the Node version', () => {
  it('every package the lock file installs runs on the lowest Node that engines allows', () => {
    const refusing = Object.entries(lock.packages)
      .filter(([path]) => path !== '')
      .flatMap(([path, entry]) => {
        const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
        return range !== undefined && !semver.satisfies(lowest, range)
          ? [`${path.replace(/^.*node_modules\//, '')}@${entry.version ?? '?'} wants node ${range}`]
          : [];
      });
    assert.deepEqual(refusing, [], `engines says ${engines} (lowest ${lowest})`);
  });

  it('the Node these tests run on (CI) is one engines allows', () => {
    assert.ok(semver.satisfies(process.versions.node, engines), `${process.versions.node} vs ${engines}`);
  });

  it('Bicep deploys the Node major the tests run on, and allows only majors engines allows', () => {
    const bicep = readFileSync(MAIN_BICEP, 'utf8');
    const decl = /@allowed\(\[([^\]]*)\]\)\s*param nodeVersion string = '(\d+)'/.exec(bicep);
    assert.ok(decl, 'param nodeVersion with @allowed in main.bicep');
    const allowed = [...decl[1]!.matchAll(/'(\d+)'/g)].map((m) => m[1]!);
    // Azure picks the patch release of a major: engines must allow some release of each allowed major.
    for (const v of allowed) assert.ok(semver.intersects(`${v}.x`, engines), `allowed ${v} vs ${engines}`);
    const fallback = /"\$\{NODE_VERSION=(\d+)\}"/.exec(readFileSync(MAIN_PARAMETERS, 'utf8'))?.[1];
    assert.equal(fallback, decl[2], 'main.parameters.json NODE_VERSION default = main.bicep default');
    assert.equal(decl[2], major(process.versions.node), 'what deploys is what CI tests');
  });

  it('the README says which Node the dependencies need', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    assert.match(readme, new RegExp(`Node\\.js ${major(lowest)}`));
    assert.match(readme, /@azure\/storage-common/);
  });
});

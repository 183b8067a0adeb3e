/** Locations of the infrastructure files, from the compiled test (dist/test/infra) or the source. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

function findRepoRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'infra'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no repository root (package.json + infra/) above ${start}`);
    dir = parent;
  }
}

export const REPO_ROOT = findRepoRoot(resolve(__dirname));
export const INFRA = join(REPO_ROOT, 'infra');
export const MAIN_BICEP = join(INFRA, 'main.bicep');
export const MAIN_PARAMETERS = join(INFRA, 'main.parameters.json');
export const ABBREVIATIONS = join(INFRA, 'abbreviations.json');
export const FUNCTION_APP_BICEP = join(INFRA, 'app', 'functionApp.bicep');
export const SERVICE_BUS_BICEP = join(INFRA, 'app', 'serviceBus.bicep');
export const KEY_VAULT_BICEP = join(INFRA, 'app', 'keyVault.bicep');
export const AZURE_YAML = join(REPO_ROOT, 'azure.yaml');
export const DEPLOY_DOC = join(REPO_ROOT, 'docs', 'deploy.md');
/** The compiled app, as `npm run build` leaves it. */
export const DIST = join(REPO_ROOT, 'dist');

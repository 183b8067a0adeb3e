/** What `npm start` prints once devhost is ready: the commands, at the origin it actually serves. */
import { DEFAULT_APP_URL } from '../config/settings.js';

export function startBanner(origin: string): string {
  // Only a non-default origin needs telling to the other tools.
  const url = origin === DEFAULT_APP_URL ? '' : ` --url ${origin}`;
  return `
Region Sync is ready at ${origin}/api/ (health: ${origin}/api/health)
  dashboard: ${origin}/api/dashboard   lag, runs and their history, orders, dead letters; start a run from the page
  npm run sync --${url} pricing --mode full          start a run and watch a live progress bar, then a per-link summary
  npm run sync --${url} promotions --mode incremental
  npm run sync --${url} pricing --mode incremental --from 2026-01-01T00:00:00Z --to 2026-02-01T00:00:00Z   (backfill a window)
  node dist/devhost/cli.js status${url}           storage emulator, task hub and broker
${url === '' ? '' : `  (or export DEVHOST_URL=${origin} once for every tool)\n`}or over HTTP:
  curl -i -X POST ${origin}/api/sync/pricing -H 'content-type: application/json' -d '{"mode":"incremental"}'
  curl <statusQueryGetUri from the answer>     progress in customStatus, the per-link result in output
  curl ${origin}/api/sync/pricing/status   per link: checkpoint, lag, last run, last error
`;
}

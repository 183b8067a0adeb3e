/**
 * `npm start`'s first step (the npm `prestart` script): on a fresh clone, creates local.settings.json
 * from the example and creates and seeds the embedded-default regions (SQLite files under .data/regions/) and then, on every start, prints how
 * to start a backfill and watch it. Reads local.settings.json the way devhost does (the
 * environment wins), so it seeds exactly the files the app will use.
 */
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/loadConfig.js';
import { withLocalDefaults } from '../config/localDefaults.js';
import { seedDemo } from './demoSeed.js';

function localSettings(dir: string): Record<string, string> {
  const file = path.join(dir, 'local.settings.json');
  if (!existsSync(file)) return {};
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, string> };
  return doc.Values ?? {};
}

async function main(): Promise<void> {
  const cwd = process.cwd();
  // A fresh clone has no local.settings.json: start from the committed example, as with Core
  // Tools. It is what makes devhost run Azurite (AzureWebJobsStorage=UseDevelopmentStorage=true),
  // which blob staging needs.
  const settingsFile = path.join(cwd, 'local.settings.json');
  const example = path.join(cwd, 'local.settings.example.json');
  if (!existsSync(settingsFile) && existsSync(example)) {
    copyFileSync(example, settingsFile);
    console.log('region-sync: created local.settings.json from local.settings.example.json');
  }
  const local = withLocalDefaults({ ...localSettings(cwd), ...process.env }, cwd);
  const config = loadConfig(local.env, { cwd });
  for (const note of local.notes) console.log(`region-sync: ${note}`);
  const files = Object.entries(config.stores).flatMap(([region, s]) =>
    s.kind === 'sqlite' ? [[region, s.file] as const] : [],
  );
  if (config.topologySource === 'embedded-default' && files.every(([, file]) => !existsSync(file))) {
    const counts = await seedDemo(config);
    console.log('region-sync: first run: created and seeded the embedded-default regions');
    for (const [region, file] of files)
      console.log(
        `  ${region.padEnd(6)} ${String(counts[region] ?? 0).padStart(6)} rows  ${path.relative(cwd, file)}`,
      );
  }
  const port = 7071;
  console.log(`
Region Sync: once devhost says it is ready (http://localhost:${port}/api/health):
  npm run sync -- pricing --mode full          start a run and watch a live progress bar, then a per-link summary
  npm run sync -- promotions --mode incremental
  npm run sync -- pricing --mode incremental --from 2026-01-01T00:00:00Z --to 2026-02-01T00:00:00Z   (backfill a window)
or over HTTP:
  curl -i -X POST http://localhost:${port}/api/sync/pricing -H 'content-type: application/json' -d '{"mode":"incremental"}'
  curl <statusQueryGetUri from the answer>     progress in customStatus, the per-link result in output
  curl http://localhost:${port}/api/sync/pricing/status   per link: checkpoint, lag, last run, last error
`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});

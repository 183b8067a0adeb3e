/**
 * `npm start`'s first step (the npm `prestart` script): on a fresh clone, creates local.settings.json
 * from the example and creates and seeds the embedded-default regions (SQLite files under .data/regions/).
 * Reads local.settings.json the way devhost does (the environment wins), so it seeds exactly the
 * files the app will use. The commands to try are printed by scripts/start.ts once devhost is
 * ready, with the port it actually serves.
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
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});

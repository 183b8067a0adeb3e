import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteRegionStore } from '../../adapters/sqliteRegionStore.js';
import { regionStoreConformance } from '../support/storeConformance.js';

regionStoreConformance('SQLite (temp files, WAL)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'store-sqlite-'));
  let n = 0;
  return {
    async open(region) {
      n++;
      return new SqliteRegionStore({ region, file: join(dir, `${region}-${n}.sqlite`) });
    },
    tableName: (canonical) => canonical,
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

/**
 * The order-saga port conformance suite against the SQLite adapter, always (each store its own
 * database file, as each region has). SQL Server runs the same suite in mssqlOrderSaga.test.ts
 * when MSSQL_TEST_CONNECTION is set.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteOrderSagaStore } from '../../adapters/sqliteOrderSaga.js';
import { orderSagaConformance } from '../support/orderSagaConformance.js';

orderSagaConformance('SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'order-saga-conformance-'));
  let n = 0;
  return {
    async open(region) {
      n++;
      return new SqliteOrderSagaStore({ region, file: join(dir, `${region}-${n}.sqlite`) });
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

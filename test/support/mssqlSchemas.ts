/** Drops the per-run schemas (and their tables) a SQL Server conformance run created. */
import sql from 'mssql';
import { mssqlPoolConfig } from '../../adapters/mssqlConnection';

export async function dropMssqlSchemas(connectionString: string, schemas: readonly string[]): Promise<void> {
  const pool = new sql.ConnectionPool(mssqlPoolConfig({ connectionString }));
  await pool.connect();
  try {
    for (const schema of schemas) {
      await pool
        .request()
        .input('schema', sql.NVarChar(128), schema)
        .query(
          `DECLARE @sql nvarchar(max) = N'';
           SELECT @sql += N'DROP TABLE ' + QUOTENAME(s.name) + N'.' + QUOTENAME(t.name) + N';'
             FROM sys.tables AS t JOIN sys.schemas AS s ON s.schema_id = t.schema_id WHERE s.name = @schema;
           EXEC sp_executesql @sql;
           DECLARE @drop nvarchar(300) = N'DROP SCHEMA ' + QUOTENAME(@schema);
           IF SCHEMA_ID(@schema) IS NOT NULL EXEC (@drop);`,
        );
    }
  } finally {
    await pool.close();
  }
}

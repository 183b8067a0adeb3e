/**
 * The SQL connection string the infra writes to Key Vault (keyVault.bicep) authenticates with the
 * managed identity when the app's pinned mssql driver parses it. Runs the real driver's parser:
 * a connection string that mssql does not understand silently falls back to SQL authentication.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConnectionPool } from 'mssql';
import { KEY_VAULT_BICEP } from './paths';

const CLIENT_ID = '11111111-2222-3333-4444-555555555555';

/** The appSqlConnection template of keyVault.bicep with its placeholders filled in. */
function appConnectionString(): string {
  const code = readFileSync(KEY_VAULT_BICEP, 'utf8');
  const m = /var appSqlConnection = '([^']*)'/.exec(code);
  assert.ok(m?.[1] !== undefined, 'keyVault.bicep declares appSqlConnection');
  return m[1]
    .replace('${sqlServerFqdn}', 'sql-crm-sea.database.windows.net')
    .replace('${sqlDatabaseName}', 'crm')
    .replace('${identityClientId}', CLIENT_ID);
}

interface ParsedConfig {
  server?: string;
  port?: number;
  database?: string;
  authentication_type?: string;
  clientId?: string;
  options?: { encrypt?: boolean };
}

function parse(connectionString: string): ParsedConfig {
  return (
    ConnectionPool as unknown as { parseConnectionString(s: string): ParsedConfig }
  ).parseConnectionString(connectionString);
}

describe('SQL connection string in Key Vault', () => {
  it('parses, with the pinned mssql, to Entra ID auth with the user-assigned identity', () => {
    const config = parse(appConnectionString());
    assert.equal(config.server, 'sql-crm-sea.database.windows.net');
    assert.equal(config.port, 1433);
    assert.equal(config.database, 'crm');
    assert.equal(config.authentication_type, 'azure-active-directory-default');
    assert.equal(config.clientId, CLIENT_ID);
  });

  it('avoids the ADO.NET keyword that mssql reads as SQL authentication', () => {
    // Documented for the adapter engineers: this is why keyVault.bicep does not write it for the app.
    const config = parse(
      `Server=tcp:x.database.windows.net,1433;Database=crm;Authentication=Active Directory Managed Identity;User Id=${CLIENT_ID}`,
    );
    assert.equal(config.authentication_type, 'default');
  });
});

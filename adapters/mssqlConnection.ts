/**
 * SQL Server connection strings -> `mssql` pool config with an explicit tedious authentication.
 *
 * Why not hand the string to `new ConnectionPool(string)`: mssql 12.7.14
 * (lib/base/connection-pool.js `_parseAuthenticationType`) only knows `Active Directory
 * Integrated`, `Active Directory Password` and `NTLM`; any other `Authentication=` value,
 * including `Active Directory Default` and `Active Directory Managed Identity`, falls through to
 * `'default'` — SQL authentication with no user — and the failure shows up later as a confusing
 * login error (or, with a user in the string, as a password login nobody intended). So the
 * `Authentication` keyword is read here, mapped to a tedious authentication object explicitly,
 * and an unknown value is refused. Everything else (server, port, database, encrypt, timeouts,
 * pool sizes) still goes through mssql's own parser.
 */
import sql from 'mssql';
import { SyncError } from '../sync/errors.js';

/** How the Functions host names identity-based connections (`<Setting>__credential`). */
export type CredentialSetting = 'managedidentity' | 'default';

export interface MssqlConnectionOptions {
  /** ADO.NET-style connection string. */
  readonly connectionString: string;
  /**
   * Identity-based connection without an `Authentication=` keyword, as the Functions host spells
   * it (`<Setting>__credential = managedidentity`). Overrides SQL authentication.
   */
  readonly credential?: CredentialSetting;
  /** Client id of a user-assigned managed identity (`<Setting>__clientId`). */
  readonly clientId?: string;
  /** Pool size (connections kept per store). Default 10. */
  readonly poolMax?: number;
  /** Per-statement timeout in ms. Default 30000 (a page MERGE can take a while). */
  readonly requestTimeoutMs?: number;
  /** Connect timeout in ms. Default 15000 (Azure SQL serverless resume needs more: set 60000). */
  readonly connectTimeoutMs?: number;
}

/** The keywords of a connection string, lower-cased and with inner whitespace collapsed. */
export function connectionStringKeywords(connectionString: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  const s = connectionString;
  while (i < s.length) {
    while (i < s.length && (s[i] === ';' || /\s/.test(s[i] as string))) i++;
    if (i >= s.length) break;
    const eq = s.indexOf('=', i);
    if (eq < 0) throw new SyncError('invalid-config', 'connection string: keyword without a value');
    const key = s.slice(i, eq).trim().toLowerCase().replace(/\s+/g, ' ');
    i = eq + 1;
    while (i < s.length && s[i] === ' ') i++;
    let value = '';
    const quote = s[i];
    if (quote === '"' || quote === "'") {
      // Quoted value: the quote character is escaped by doubling it.
      i++;
      for (;;) {
        if (i >= s.length) throw new SyncError('invalid-config', 'connection string: unterminated quote');
        if (s[i] === quote) {
          if (s[i + 1] === quote) {
            value += quote;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += s[i];
        i++;
      }
      while (i < s.length && s[i] !== ';') i++;
    } else {
      const end = s.indexOf(';', i);
      value = (end < 0 ? s.slice(i) : s.slice(i, end)).trim();
      i = end < 0 ? s.length : end;
    }
    if (key !== '') out.set(key, value);
  }
  return out;
}

type Authentication = NonNullable<sql.config['authentication']>;

const pick = (kw: Map<string, string>, ...names: string[]): string | undefined => {
  for (const n of names) {
    const v = kw.get(n);
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
};

/**
 * The tedious authentication for a connection string. Exported for tests; the secret values are
 * in the returned object, so never log it.
 */
export function authenticationFor(options: MssqlConnectionOptions): Authentication {
  const kw = connectionStringKeywords(options.connectionString);
  const user = pick(kw, 'user id', 'uid', 'user', 'username');
  const password = pick(kw, 'password', 'pwd');
  const clientIdFromString = pick(kw, 'client id', 'clientid');
  // ADO.NET accepts the values with and without spaces (`ActiveDirectoryMSI`).
  const mode = (kw.get('authentication') ?? '').toLowerCase().replace(/[\s_-]+/g, '');
  // ADO.NET convention: for managed identity / default, `User Id` is the client id of a
  // user-assigned identity. An explicit option wins over the string.
  const identityClientId = options.clientId ?? clientIdFromString ?? user;
  const withClientId = (clientId: string | undefined) => (clientId === undefined ? {} : { clientId });

  if (mode === '' || mode === 'sqlpassword') {
    if (options.credential === 'managedidentity') {
      return {
        type: 'azure-active-directory-msi-app-service',
        options: withClientId(options.clientId ?? clientIdFromString),
      };
    }
    if (options.credential === 'default') {
      return {
        type: 'azure-active-directory-default',
        options: withClientId(options.clientId ?? clientIdFromString),
      };
    }
    if (user === undefined || password === undefined) {
      throw new SyncError(
        'invalid-config',
        'SQL Server connection string has neither User Id + Password nor an Authentication=Active Directory ... keyword (nor a __credential setting)',
      );
    }
    return { type: 'default', options: { userName: user, password } };
  }
  switch (mode) {
    case 'activedirectorydefault':
    case 'activedirectoryintegrated':
      // tedious has no Windows-integrated Entra flow; DefaultAzureCredential (environment,
      // workload identity, managed identity, Azure CLI) is the closest equivalent, and is what
      // mssql itself maps `Active Directory Integrated` to.
      return { type: 'azure-active-directory-default', options: withClientId(identityClientId) };
    case 'activedirectorymanagedidentity':
    case 'activedirectorymsi':
      // In tedious 19 the `-msi-app-service` and `-msi-vm` types both build a
      // ManagedIdentityCredential, which finds the App Service / Functions or IMDS endpoint itself.
      return { type: 'azure-active-directory-msi-app-service', options: withClientId(identityClientId) };
    case 'activedirectoryserviceprincipal': {
      const tenantId = pick(kw, 'tenant id', 'tenantid');
      const clientId = clientIdFromString ?? user;
      if (clientId === undefined || password === undefined || tenantId === undefined) {
        throw new SyncError(
          'invalid-config',
          'Authentication=Active Directory Service Principal needs User Id (client id), Password (secret) and Tenant Id',
        );
      }
      return {
        type: 'azure-active-directory-service-principal-secret',
        options: { clientId, clientSecret: password, tenantId },
      };
    }
    default:
      throw new SyncError(
        'invalid-config',
        `SQL Server connection string: unsupported Authentication '${kw.get('authentication') ?? ''}' (supported: SqlPassword, Active Directory Default, Active Directory Managed Identity, Active Directory Integrated, Active Directory Service Principal)`,
      );
  }
}

/** The full mssql pool config for a store. */
export function mssqlPoolConfig(options: MssqlConnectionOptions): sql.config {
  let parsed: ReturnType<typeof sql.ConnectionPool.parseConnectionString>;
  try {
    parsed = sql.ConnectionPool.parseConnectionString(options.connectionString);
  } catch (e) {
    throw new SyncError('invalid-config', `SQL Server connection string: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (typeof parsed.server !== 'string' || parsed.server === '')
    throw new SyncError('invalid-config', 'SQL Server connection string has no Server / Data Source');
  const authentication = authenticationFor(options);
  // Credentials live only in `authentication`; mssql would otherwise merge them in again.
  const { user: _user, password: _password, ...rest } = parsed;
  void _user;
  void _password;
  return {
    ...rest,
    server: parsed.server,
    authentication,
    connectionTimeout: options.connectTimeoutMs ?? parsed.connectionTimeout ?? 15_000,
    requestTimeout: options.requestTimeoutMs ?? parsed.requestTimeout ?? 30_000,
    pool: { ...parsed.pool, max: options.poolMax ?? parsed.pool.max ?? 10, min: parsed.pool.min ?? 0 },
    options: {
      ...parsed.options,
      // Azure SQL requires TLS; a local server with a self-signed certificate needs
      // TrustServerCertificate=True in its connection string, never a silent downgrade here.
      encrypt: parsed.options.encrypt ?? true,
      appName: parsed.options.appName ?? 'region-sync',
      useUTC: true,
    },
  };
}

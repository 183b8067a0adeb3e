/**
 * Which broker a binding talks to, decided by its connection setting the way the Functions host
 * resolves it: the setting named by `connection` (or `AzureWebJobs<connection>`; default name
 * `AzureWebJobsServiceBus`), or the identity-based `<connection>__fullyQualifiedNamespace`.
 */
export type ConnectionTarget =
  | { mode: 'embedded'; settingName: string }
  | { mode: 'azure'; settingName: string; connectionString: string }
  | { mode: 'azure'; settingName: string; fullyQualifiedNamespace: string };

export class ConnectionSettingError extends Error {
  override readonly name = 'ConnectionSettingError';
}

export function resolveConnection(connection: unknown, settings: NodeJS.ProcessEnv): ConnectionTarget {
  const name =
    typeof connection === 'string' && connection.trim() !== '' ? connection.trim() : 'AzureWebJobsServiceBus';
  const candidates = name.startsWith('AzureWebJobs') ? [name] : [name, `AzureWebJobs${name}`];
  for (const candidate of candidates) {
    const value = lookup(settings, candidate);
    if (value !== undefined && value.trim() !== '') {
      const trimmed = value.trim();
      if (trimmed.toLowerCase() === 'local') return { mode: 'embedded', settingName: candidate };
      if (/(^|;)\s*Endpoint\s*=/i.test(trimmed))
        return { mode: 'azure', settingName: candidate, connectionString: trimmed };
      throw new ConnectionSettingError(
        `App setting "${candidate}" is neither "local" nor a Service Bus connection string (Endpoint=sb://...).`,
      );
    }
    const fqns = lookup(settings, `${candidate}__fullyQualifiedNamespace`);
    if (fqns !== undefined && fqns.trim() !== '')
      return {
        mode: 'azure',
        settingName: candidate,
        fullyQualifiedNamespace: normaliseNamespace(fqns.trim()),
      };
  }
  return { mode: 'embedded', settingName: name };
}

/** A stable key: bindings that resolve to the same namespace share one client. */
export function connectionKey(target: ConnectionTarget): string {
  if (target.mode === 'embedded') return 'embedded';
  return 'connectionString' in target
    ? `cs:${target.connectionString}`
    : `ns:${target.fullyQualifiedNamespace}`;
}

function normaliseNamespace(value: string): string {
  return value.replace(/^sb:\/\//i, '').replace(/\/+$/, '');
}

/** App settings are case-insensitive on Windows and in the Functions host; `:` and `__` are the same separator. */
function lookup(settings: NodeJS.ProcessEnv, name: string): string | undefined {
  const direct = settings[name];
  if (direct !== undefined) return direct;
  const wanted = name.toLowerCase().replace(/:/g, '__');
  for (const [key, value] of Object.entries(settings)) {
    if (key.toLowerCase().replace(/:/g, '__') === wanted) return value;
  }
  return undefined;
}

/** Starts Azurite's blob service in-process on a free loopback port with in-memory storage. */
import BlobConfiguration from 'azurite/dist/src/blob/BlobConfiguration';
import BlobServer from 'azurite/dist/src/blob/BlobServer';

/** Azurite's well-known development account (public, documented; not a secret). */
const ACCOUNT = 'devstoreaccount1';
const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface RunningAzurite {
  readonly connectionString: string;
  stop(): Promise<void>;
}

export async function startAzuriteBlob(): Promise<RunningAzurite> {
  // Positional arguments: host, port (0 = free port), keep-alive, metadata/extent paths and
  // persistence (unused in memory mode), access log off, stream, debug log off, debug path,
  // loose, skipApiVersionCheck, cert, key, pwd, oauth, disableProductStyleUrl, isMemoryPersistence.
  const config = new BlobConfiguration(
    '127.0.0.1',
    0,
    undefined,
    undefined,
    undefined,
    undefined,
    false,
    undefined,
    false,
    undefined,
    true,
    true,
    '',
    '',
    '',
    undefined,
    false,
    true,
  );
  const server = new BlobServer(config);
  await server.start();
  const endpoint = `${server.getHttpServerAddress()}/${ACCOUNT}`;
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};BlobEndpoint=${endpoint};`,
    async stop() {
      await server.close();
      await server.clean();
    },
  };
}

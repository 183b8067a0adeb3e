// Minimal typings for the parts of Azurite's blob server the staging tests start in-process
// (the package's main entry pulls in the VS Code extension, so tests import these modules directly).
declare module 'azurite/dist/src/blob/BlobConfiguration' {
  export default class BlobConfiguration {
    constructor(host?: string, port?: number, ...rest: unknown[]);
  }
}
declare module 'azurite/dist/src/blob/BlobServer' {
  import type BlobConfiguration from 'azurite/dist/src/blob/BlobConfiguration';
  export default class BlobServer {
    constructor(configuration: BlobConfiguration);
    start(): Promise<void>;
    close(): Promise<void>;
    clean(): Promise<void>;
    getHttpServerAddress(): string;
  }
}

/**
 * Where devhost's command-line clients (`devhost status`, `devhost sb ...`) find a running
 * devhost: their --url, else DEVHOST_URL, else the default port.
 */
export const DEFAULT_DEVHOST_URL = process.env.DEVHOST_URL ?? 'http://127.0.0.1:7071';

import type { TypedData } from './coreTypes';

/** A JSON value handed to a function as the host would: strings as `{string}`, the rest as `{json}`. */
export function jsonToTypedData(value: unknown): TypedData {
  if (value === undefined) return {};
  if (typeof value === 'string') return { string: value };
  return { json: JSON.stringify(value) };
}

/**
 * Reads a function's RPC return value back into a plain value (the inverse of the library's
 * toRpcTypedData): `{json}` is parsed, bytes stay a Buffer, `{}`/null/undefined give undefined.
 */
export function typedDataToValue(data: TypedData | null | undefined): unknown {
  if (data == null) return undefined;
  if (data.string != null) return data.string;
  if (data.json != null) return JSON.parse(data.json) as unknown;
  if (data.bytes != null) return Buffer.from(data.bytes);
  if (data.stream != null) return Buffer.from(data.stream);
  if (data.int != null) return Number(data.int);
  if (data.double != null) return Number(data.double);
  if (data.collectionString != null) return data.collectionString.string;
  if (data.collectionDouble != null) return data.collectionDouble.double;
  if (data.collectionSint64 != null) return data.collectionSint64.sint64.map(Number);
  if (data.collectionBytes != null) return data.collectionBytes.bytes.map((b) => Buffer.from(b));
  if (data.http != null) return data.http;
  return undefined;
}

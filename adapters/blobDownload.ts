/**
 * A whole blob in one GET. The SDK's `downloadToBuffer` first asks for the blob's properties to
 * size its buffer: a second round trip per read, and a read that can pair one version's size with
 * another version's body while the blob is being rewritten. Staged pages, run records and dead
 * letters are small, so the body is simply collected as it streams in.
 */
import type { BlobClient } from '@azure/storage-blob';

/** Retries of a download cut short mid-body (the SDK resumes from the last byte it got). */
const DOWNLOAD_RESUMES = 5;

export async function downloadWhole(client: BlobClient): Promise<Buffer> {
  const res = await client.download(0, undefined, { maxRetryRequests: DOWNLOAD_RESUMES });
  const stream = res.readableStreamBody;
  if (stream === undefined) throw new Error(`download of ${client.name} returned no body`);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  const body = Buffer.concat(chunks);
  if (res.contentLength !== undefined && body.length !== res.contentLength)
    throw new Error(`download of ${client.name} ended after ${body.length} of ${res.contentLength} bytes`);
  return body;
}

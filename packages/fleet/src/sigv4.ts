// AWS Signature Version 4 for S3 requests (header-based, signed payload hash), as AWS's "Signature Calculations for
// the Authorization Header" describes: canonical request → string to sign → HMAC chain over date, region, service.
import { createHash, createHmac } from 'node:crypto';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface SignRequest {
  readonly method: string;
  /** Decoded path, e.g. `/bucket/runs/a b.json`; each segment is percent-encoded here, `/` kept. */
  readonly path: string;
  /** Decoded query parameters; a value of '' gives `key=` (e.g. `?lifecycle`). */
  readonly query?: Readonly<Record<string, string>>;
  /** Headers to sign (must include host); names in any case. */
  readonly headers: Readonly<Record<string, string>>;
  /** Hex SHA-256 of the body (`UNSIGNED-PAYLOAD` is allowed by S3 but not used here). */
  readonly payloadHash: string;
  readonly region: string;
  readonly service: string;
  readonly credentials: AwsCredentials;
  readonly date: Date;
}

export interface SignedRequest {
  /** The headers to send: the given ones plus x-amz-date, x-amz-content-sha256, authorization (lower-case names). */
  readonly headers: Record<string, string>;
  /** Percent-encoded path + query, as signed. */
  readonly pathAndQuery: string;
  readonly canonicalRequest: string;
  readonly stringToSign: string;
  readonly signature: string;
}

export const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ as %XX (upper-case hex), UTF-8 bytes. */
export function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `20130524T000000Z` */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export function signV4(req: SignRequest): SignedRequest {
  const stamp = amzDate(req.date);
  const day = stamp.slice(0, 8);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
  headers['x-amz-date'] = stamp;
  headers['x-amz-content-sha256'] = req.payloadHash;
  if (req.credentials.sessionToken !== undefined) headers['x-amz-security-token'] = req.credentials.sessionToken;
  if (headers['host'] === undefined) throw new Error('signV4: the host header is required');
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${(headers[n] as string).trim().replace(/\s+/g, ' ')}\n`).join('');
  const signedHeaders = names.join(';');
  const canonicalPath = req.path.split('/').map(uriEncode).join('/');
  const query = Object.entries(req.query ?? {})
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalRequest = [req.method, canonicalPath, query, canonicalHeaders, signedHeaders, req.payloadHash].join('\n');
  const scope = `${day}/${req.region}/${req.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', stamp, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${req.credentials.secretAccessKey}`, day), req.region), req.service), 'aws4_request');
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  headers['authorization'] = `AWS4-HMAC-SHA256 Credential=${req.credentials.accessKeyId}/${scope},SignedHeaders=${signedHeaders},Signature=${signature}`;
  return { headers, pathAndQuery: query === '' ? canonicalPath : `${canonicalPath}?${query}`, canonicalRequest, stringToSign, signature };
}

// SigV4 against AWS's published examples ("Signature Calculations for the Authorization Header: Transferring Payload
// in a Single Chunk", S3 API reference): same inputs must give the documented signature, hex for hex.
import { amzDate, sha256Hex, signV4, uriEncode } from './sigv4';

const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const date = new Date(Date.UTC(2013, 4, 24, 0, 0, 0));
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const host = 'examplebucket.s3.amazonaws.com';
const base = { region: 'us-east-1', service: 's3', credentials, date };

describe('SigV4 (AWS documentation examples)', () => {
  test('GET object with a Range header', () => {
    const s = signV4({ ...base, method: 'GET', path: '/test.txt', headers: { Host: host, Range: 'bytes=0-9' }, payloadHash: EMPTY });
    expect(s.headers['authorization']).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });

  test('PUT object: payload hash, a key that needs encoding, extra x-amz header', () => {
    const body = 'Welcome to Amazon S3.';
    const s = signV4({
      ...base, method: 'PUT', path: '/test$file.text',
      headers: { Host: host, Date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-storage-class': 'REDUCED_REDUNDANCY' },
      payloadHash: sha256Hex(body),
    });
    expect(s.signature).toBe('98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd');
    expect(s.pathAndQuery).toBe('/test%24file.text');
  });

  test('GET bucket lifecycle (an empty query value)', () => {
    const s = signV4({ ...base, method: 'GET', path: '/', query: { lifecycle: '' }, headers: { Host: host }, payloadHash: EMPTY });
    expect(s.signature).toBe('fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543');
  });

  test('GET bucket (list objects): query parameters sorted and encoded', () => {
    const s = signV4({ ...base, method: 'GET', path: '/', query: { prefix: 'J', 'max-keys': '2' }, headers: { Host: host }, payloadHash: EMPTY });
    expect(s.signature).toBe('34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
    expect(s.pathAndQuery).toBe('/?max-keys=2&prefix=J');
  });

  test('helpers: RFC 3986 encoding, basic timestamp', () => {
    expect(uriEncode("a b/c*d'(e)!~_-.")).toBe('a%20b%2Fc%2Ad%27%28e%29%21~_-.');
    expect(amzDate(date)).toBe('20130524T000000Z');
  });
});

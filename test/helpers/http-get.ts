// A GET on a blkfs web page (loopback), its status and body; a request that takes longer than `timeoutMs` fails.
import * as http from 'http';

export function httpGet(url: string, timeoutMs = 30_000): Promise<{ code: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)));
  });
}

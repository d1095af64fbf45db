// "Twin discs" for media-change tests: two media of one size made from one template, equal in their first bytes
// (so a first-sectors fingerprint cannot tell them apart) and different after, where only the identity samples
// spread over the medium can.
import * as fs from 'fs';
import * as path from 'path';
import { patternBuffer } from './memory-source';

/** Two media from one template: equal in their first `shared` bytes, different after. */
function templateTwins(size: number, shared: number, seed = 1): { a: Buffer; b: Buffer } {
  const a = patternBuffer(size, seed);
  const b = Buffer.from(a);
  for (let i = shared; i < size; i++) b[i] = a[i] ^ 0x5a;
  return { a, b };
}

export interface TwinDiscs {
  A: Buffer;
  B: Buffer;
  /** The images as files (dir/A.img, dir/B.img), to mount or to attach to a loop device. */
  aPath: string;
  bPath: string;
}

/** templateTwins() written to `dir` as A.img and B.img. */
export function writeTwinDiscs(dir: string, size: number, shared: number, seed: number): TwinDiscs {
  const { a: A, b: B } = templateTwins(size, shared, seed);
  const aPath = path.join(dir, 'A.img');
  const bPath = path.join(dir, 'B.img');
  fs.writeFileSync(aPath, A);
  fs.writeFileSync(bPath, B);
  return { A, B, aPath, bPath };
}

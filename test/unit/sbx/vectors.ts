/** Locates ../shared/vectors (the reference tools' outputs) and describes each container (vectors/README.md). */
import * as fs from 'fs';
import * as path from 'path';
import { HashType } from '../../../src/sbx/format/multihash';
import { SbxVersion } from '../../../src/sbx/format/specs';
import { VECTORS_DIR } from '../../helpers/vectors-dir';

/** /work/shared/vectors seen from dist/test/unit/sbx (or from test/unit/sbx under ts-node). */
export { VECTORS_DIR };

export interface VectorCase {
  name: string;
  container: string;
  version: SbxVersion;
  d?: number;
  p?: number;
  burst?: number;
  hash: HashType;
  uid: string;
  /** FDT = SDT; null for the no-metadata container. */
  time: number | null;
  noMeta?: boolean;
}

const sbx = (name: string, version: SbxVersion, uid: string, time: number): VectorCase => ({ name, container: `${name}.sbx`, version, hash: 'sha256', uid, time });
const ec = (name: string, version: SbxVersion, d: number, p: number, burst: number, uid: string, time: number): VectorCase => ({
  name,
  container: `${name}.ecsbx`,
  version,
  d,
  p,
  burst,
  hash: 'sha256',
  uid,
  time,
});
const hashCase = (h: HashType): VectorCase => ({ name: `hash-${h}`, container: `hash-${h}.sbx`, version: 1, hash: h, uid: '0C00000000A1', time: 1600000105 });

/** Every container of vectors/README.md with the parameters it was made with. */
export const VECTOR_CASES: VectorCase[] = [
  sbx('v1-empty', 1, '0A0000000001', 1600000000),
  sbx('v1-small', 1, '0A0000000002', 1600000001),
  sbx('v1-oneblock', 1, '0A0000000003', 1600000002),
  sbx('v1-oneblockplus', 1, '0A0000000004', 1600000003),
  sbx('v1-100k', 1, '0A0000000005', 1600000004),
  sbx('v2-small', 2, '0A0000000006', 1600000005),
  sbx('v2-112', 2, '0A0000000007', 1600000006),
  sbx('v3-small', 3, '0A0000000008', 1600000007),
  sbx('v3-exact', 3, '0A0000000009', 1600000008),
  { name: 'v1-nometa', container: 'v1-nometa.sbx', version: 1, hash: 'sha256', uid: '0A000000000A', time: null, noMeta: true },
  ec('ec17-default-1000', 17, 10, 2, 12, '0C0000000001', 1600000100),
  ec('ec17-default-200k', 17, 10, 2, 12, '0C0000000002', 1600000101),
  ec('e18', 18, 4, 2, 3, '0C0000000003', 1600000102),
  ec('ec19-d3p1b0', 19, 3, 1, 0, '0C0000000004', 1600000103),
  ec('ec17-d10p2b0', 17, 10, 2, 0, '0C0000000005', 1600000104),
  ec('ec17-empty', 17, 10, 2, 12, '0C0000000006', 1600000106),
  hashCase('sha1'),
  hashCase('sha512'),
  hashCase('blake2b-256'),
  hashCase('blake2b-512'),
  hashCase('blake2s-128'),
  hashCase('blake2s-256'),
];

export function readVector(file: string): Buffer {
  return fs.readFileSync(path.join(VECTORS_DIR, file));
}

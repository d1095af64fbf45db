// Builds SBX containers in memory with the library's random-access core (the encoder's own path).
import { makeContainerSpec, standardMetadata } from '../../../src/sbx/format/container-spec';
import { Layout } from '../../../src/sbx/format/layout';
import { hashBytes } from '../../../src/sbx/format/multihash';
import { readContainer } from '../../../src/sbx/format/random-access';
import { BufferReader } from '../../../src/sbx/reader';
import { SbxVersion } from '../../../src/sbx/format/specs';
import { xorshift32 } from '../../helpers/seeded-random';
import Database from 'better-sqlite3';
import type { MemoryCache } from '../../helpers/memory-cache';
import { BlockIndex } from '../../../src/views/rescued/block-index';
import { MediumScanner } from '../../../src/views/rescued/medium-scanner';
import { RescuedContainers } from '../../../src/views/rescued/rescued-views';

export interface TestContainerParams {
  version: SbxVersion;
  d?: number;
  p?: number;
  burst?: number;
  uid: string;
  fnm?: string;
}

export async function makeContainer(data: Buffer, c: TestContainerParams): Promise<Buffer> {
  const layout = new Layout({ version: c.version, d: c.d, p: c.p, burst: c.burst });
  const metadata = standardMetadata(layout, {
    fnm: c.fnm ?? 'file.bin',
    snm: 'file.sbx',
    fsz: data.length,
    fdt: 1600000000,
    sdt: 1600000000,
    hsh: { type: 'sha256', digest: hashBytes('sha256', data) },
  });
  const spec = makeContainerSpec({ version: c.version, d: c.d, p: c.p, burst: c.burst, uid: Buffer.from(c.uid, 'hex'), fileSize: data.length, metadata });
  return readContainer(spec, 0, layout.containerSize(data.length), new BufferReader(data));
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function pseudoRandom(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  const next = xorshift32(seed);
  for (let i = 0; i < length; i++) out[i] = next() & 0xff;
  return out;
}

/** The whole medium acquired and scanned for SBX blocks: its /rescued/ containers. */
export async function acquireAndScan(mem: MemoryCache): Promise<RescuedContainers> {
  const index = new BlockIndex(new Database(':memory:'));
  const scanner = new MediumScanner(mem.cache, index);
  scanner.start();
  await mem.cache.acquire();
  await scanner.idle();
  await scanner.stop();
  return new RescuedContainers(index, mem.cache);
}

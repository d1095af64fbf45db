// /sbx/image.sbx: the medium as a blkar container, generated on the fly. Its bytes are what
// `blkfs sbx encode` (and blkar) would write for the medium image with the same parameters, UID, names and
// times: random access, a block computed from its own block set's sectors through the cache. Every open
// pins a state of the medium (PinnedImage), so one open file never mixes two states. The metadata copies
// carry the hash of the whole image; the first read of one completes the medium first (acquisition, each
// sector once) and stores the hash with the state it belongs to.
import { Layout } from '../../sbx/format/layout';
import { ContainerSpec, ContainerSpecParams, makeContainerSpec, standardMetadata } from '../../sbx/format/container-spec';
import { MetadataTooLargeError } from '../../sbx/format/metadata';
import { ContainerRenderer } from '../../sbx/format/random-access';
import { digestLengthOf } from '../../sbx/format/multihash';
import { FileAttr, Handle, View, ViewErrno } from '../view';
import { ContainerUnits } from './container-units';
import { ImageIdentity } from './image-identity';
import { SbxImageParams } from './image-params';
import type { SectorCache } from '../../cache/sector-cache';
import { ImageSealer } from './image-sealer';
import { PinnedImage } from './pinned-image';

interface OpenImage {
  pinned: PinnedImage;
  /** Data and parity blocks (complete states only; undecided ones render exactly what is asked). */
  units: ContainerUnits | undefined;
  /** The metadata block for this handle's state, once its hash is known. */
  metadataBlock: Buffer | undefined;
}

/** The container description's inputs; `digest` is the image hash (a placeholder where only the layout matters). */
export function imageSpecParams(params: SbxImageParams, identity: ImageIdentity, size: number, digest?: Buffer): ContainerSpecParams {
  const layout = new Layout({ version: params.version, d: params.dataShards, p: params.parityShards, burst: params.burst });
  const hsh = { type: params.hash, digest: digest ?? Buffer.alloc(digestLengthOf(params.hash)) };
  let fnm = identity.fnm;
  for (;;) {
    const metadata = standardMetadata(layout, { fnm, snm: identity.snm, fsz: size, fdt: identity.fdt, sdt: identity.sdt, hsh });
    const p: ContainerSpecParams = { version: params.version, d: params.dataShards, p: params.parityShards, burst: params.burst, uid: identity.uid, fileSize: size, metadata };
    try {
      makeContainerSpec(p);
      return p;
    } catch (err) {
      // Versions 2 and 18 have 112-byte blocks: a long source name does not fit; shorten FNM, never fail.
      if (!(err instanceof MetadataTooLargeError) || fnm.length <= 1) throw err;
      fnm = fnm.slice(0, Math.max(1, fnm.length - (err.needed - err.available)));
    }
  }
}

export function imageSpec(params: SbxImageParams, identity: ImageIdentity, size: number, digest?: Buffer): ContainerSpec {
  return makeContainerSpec(imageSpecParams(params, identity, size, digest));
}

export class SbxImageView implements View {
  readonly kind = 'file';
  /** Layout-only spec (placeholder hash): sizes, and every block but the metadata copies. */
  private readonly layoutSpec: ContainerSpec;
  private readonly renderer: ContainerRenderer;
  private readonly metaIndices: number[];

  constructor(
    private readonly cache: SectorCache,
    private readonly sealer: ImageSealer,
    private readonly params: SbxImageParams,
    private readonly identity: ImageIdentity,
  ) {
    this.layoutSpec = imageSpec(params, identity, cache.size);
    this.renderer = new ContainerRenderer(this.layoutSpec);
    this.metaIndices = this.layoutSpec.layout.metadataIndices();
  }

  /** Container size as blkar computes it, holes included. */
  get size(): number {
    return this.layoutSpec.layout.containerSize(this.cache.size);
  }

  getattr(): FileAttr {
    return { size: this.size, mode: 0o444, mtime: new Date(this.identity.sdt * 1000) };
  }

  async open(): Promise<Handle> {
    const pinned = new PinnedImage(this.cache, this.cache.extents());
    const h: OpenImage = { pinned, units: undefined, metadataBlock: undefined };
    const known = this.sealer.knownHash(pinned);
    if (known) h.metadataBlock = this.metadataBlockFor(known);
    return h;
  }

  async read(handle: Handle, offset: number, length: number): Promise<Buffer | ViewErrno> {
    const h = handle as OpenImage;
    const size = this.size;
    const end = Math.min(size, offset + length);
    if (offset >= end) return Buffer.alloc(0);
    const bs = this.layoutSpec.layout.blockSize;
    const first = Math.floor(offset / bs);
    const count = Math.ceil(end / bs) - first;
    const metas = this.metaIndices.filter((i) => i >= first && i < first + count);
    if (metas.length > 0 && !h.metadataBlock) {
      // Completes the handle's state (acquiring the rest of the medium if needed) and hashes it.
      h.metadataBlock = this.metadataBlockFor(await this.sealer.hashOf(h.pinned));
    }
    let blocks: Buffer;
    if (h.pinned.isComplete()) {
      h.units ??= new ContainerUnits(this.renderer, h.pinned);
      blocks = await h.units.blocks(first, count);
    } else {
      // Random access into a medium not yet fully read: read exactly the block sets asked for.
      const plan = this.renderer.plan(first, count);
      const source = await this.renderer.load(plan, h.pinned);
      blocks = Buffer.allocUnsafe(count * bs);
      this.renderer.render(first, count, plan, source, blocks, 0, this.layoutSpec.fileSize, Buffer.alloc(bs));
    }
    if (metas.length > 0) {
      // Never write into a rendered unit (it is shared by later reads): patch a copy.
      blocks = Buffer.from(blocks);
      for (const i of metas) (h.metadataBlock as Buffer).copy(blocks, (i - first) * bs);
    }
    return blocks.subarray(offset - first * bs, end - first * bs);
  }

  /**
   * read() straight into `target` (the kernel's buffer, for the FUSE glue) once the handle's state is complete:
   * the hot path of a copy, with no buffer per read (whose garbage collection cost a copy a third of its speed).
   */
  async readInto(handle: Handle, offset: number, target: Buffer, length: number): Promise<number | ViewErrno> {
    const h = handle as OpenImage;
    const end = Math.min(this.size, offset + length);
    if (offset >= end) return 0;
    const bs = this.layoutSpec.layout.blockSize;
    const metas = this.metaIndices.filter((i) => (i + 1) * bs > offset && i * bs < end);
    if (!h.pinned.isComplete() || (metas.length > 0 && !h.metadataBlock)) {
      const got = await this.read(handle, offset, length);
      return got instanceof ViewErrno ? got : got.copy(target, 0, 0, Math.min(got.length, length));
    }
    h.units ??= new ContainerUnits(this.renderer, h.pinned);
    await h.units.copyTo(offset, target, end - offset);
    for (const i of metas) {
      const from = Math.max(offset, i * bs);
      const to = Math.min(end, (i + 1) * bs);
      (h.metadataBlock as Buffer).copy(target, from - offset, from - i * bs, to - i * bs);
    }
    return end - offset;
  }

  async release(handle: Handle): Promise<void> {
    (handle as OpenImage).units?.close();
  }

  private metadataBlockFor(digest: Buffer): Buffer {
    return imageSpec(this.params, this.identity, this.cache.size, digest).metadataBlock as Buffer;
  }
}

// /sbx/image.map: the GNU ddrescue mapfile that goes with /sbx/image.sbx — which sectors of the image in
// the container are data ('+') and which are zeros standing for unreadable sectors ('-'). The container
// needs a medium in which every sector has been tried, so opening the map completes the medium first, as
// the first read of the container's metadata does; both then describe the same state (as long as no retry
// recovers a sector in between). An archive keeps both files.
import { renderMapfile } from '../../cache/mapfile';
import { uidToHex } from '../../sbx/format/header';
import { FileAttr, Handle, View } from '../view';
import { ImageIdentity } from './image-identity';
import { ImageSealer, SealerCache } from './image-sealer';

export class SbxImageMapView implements View {
  readonly kind = 'file';
  private memo: { key: unknown; bytes: Buffer } | undefined;

  constructor(
    private readonly cache: SealerCache,
    private readonly sealer: ImageSealer,
    private readonly identity: ImageIdentity,
  ) {}

  getattr(): FileAttr {
    // The size is exact once the medium is complete; before that the map does not exist yet (direct I/O
    // reads go to the end of what open() renders whatever this says).
    const extents = this.cache.extents();
    const complete = extents.every((r) => r.status === '+' || r.status === '-');
    return { size: complete ? this.render(extents).length : 0, mode: 0o444, mtime: new Date(this.identity.sdt * 1000) };
  }

  async open(): Promise<Handle> {
    return this.render(await this.sealer.completeState());
  }

  async read(handle: Handle, offset: number, length: number): Promise<Buffer> {
    const bytes = handle as Buffer;
    return bytes.subarray(Math.min(offset, bytes.length), Math.min(offset + length, bytes.length));
  }

  async release(): Promise<void> {}

  private render(extents: ReturnType<SealerCache['extents']>): Buffer {
    if (this.memo?.key === extents) return this.memo.bytes;
    const text = renderMapfile(extents, this.cache.sectorSize, this.cache.size, {
      currentPos: 0,
      phase: '+',
      pass: 1,
      comments: [`blkfs /sbx/image.map: sectors of the image inside /sbx/image.sbx (UID ${uidToHex(this.identity.uid)}); '-' areas are zeros there`],
    });
    const bytes = Buffer.from(text, 'utf8');
    this.memo = { key: extents, bytes };
    return bytes;
  }
}

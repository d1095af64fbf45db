// /checksums: CRC-32, MD5, SHA-1 and SHA-256 of the medium image (unreadable sectors as zeros), in the tagged
// format `sha256sum -c`, `md5sum -c` and `cksum -c` read; "incomplete" with the bytes missing until every sector
// is settled. Computed by the ChecksumTracker from the cache, never by reading the medium again.
import type { ChecksumState } from '../archive/checksum-tracker';
import { checksumsText } from '../archive/checksums-text';
import type { DatVerdict } from '../archive/dat';
import { GeneratedFileView } from './generated-file-view';

export interface ChecksumsSource {
  state(): ChecksumState;
  /** The DAT verdict once complete (mount --dat), if a DAT was given. */
  verdict(): DatVerdict | undefined;
  /** The name the image's lines carry (the name `blkfs sbx decode` gives it). */
  imageName(): string;
}

export class ChecksumsView extends GeneratedFileView {
  constructor(source: ChecksumsSource) {
    super(() => checksumsText(source.imageName(), source.state(), source.verdict()), {
      // Everything the text shows: an image hashed again (a sector recovered) ends at the same byte count with
      // other digests, bad bytes and DAT verdict (which follows the digests), and `waiting` changes the wording.
      stateKey: () => {
        const s = source.state();
        return `${s.bytesHashed}/${s.bytesMissing}/${s.bytesBad}/${s.waiting}/${s.complete}/${s.digests?.sha256 ?? ''}`;
      },
    });
  }
}

import { expect } from 'chai';
import { bagInfoText } from '../../../src/archive/bagit';
import { s3Metadata, s3MetadataValue } from '../../../src/archive/s3-store';
import { parseArchiveMeta } from '../../../src/cli/archive-meta';
import { UserError } from '../../../src/errors';

describe('blkfs archive --meta', () => {
  it("keeps the user's labels as written in bag-info.txt (BagIt's Source-Organization, not source-organization)", () => {
    const m = parseArchiveMeta(['Source-Organization=Lab 3', 'Contact-Name=Jane Doe', 'project=box-17']);
    expect(m.bagInfo).to.deep.equal([
      ['Source-Organization', 'Lab 3'],
      ['Contact-Name', 'Jane Doe'],
      ['project', 'box-17'],
    ]);
  });

  it('gives S3 the same pairs with lowercase keys (HTTP headers are case-insensitive)', () => {
    expect(parseArchiveMeta(['Source-Organization=Lab', 'project=x=y']).s3).to.deep.equal({ 'source-organization': 'Lab', project: 'x=y' });
  });

  it('a repeated label is kept twice in bag-info.txt, as RFC 8493 allows', () => {
    expect(parseArchiveMeta(['Contact-Name=A', 'Contact-Name=B']).bagInfo).to.deep.equal([
      ['Contact-Name', 'A'],
      ['Contact-Name', 'B'],
    ]);
  });

  it('something that is not key=value is bad user input', () => {
    expect(() => parseArchiveMeta(['no-equals'])).to.throw(UserError, /--meta wants key=value/);
  });

  it('a value with a lone CR or any line break stays one bag-info.txt line (RFC 8493 ends a line at CR too)', () => {
    const text = bagInfoText(parseArchiveMeta(['Note=a\rb', 'Other=c\r\n\nd']).bagInfo);
    expect(text).to.equal('Note: a b\nOther: c d\n');
    expect(text.split(/\r\n|\r|\n/).filter((l) => l !== '').every((l) => /^[^:\s][^:]*: /.test(l))).to.equal(true);
  });

  it('S3 gets a value an HTTP header can carry: line breaks as spaces, non-ASCII RFC 2047 encoded as S3 asks', () => {
    expect(s3MetadataValue('Lab 3')).to.equal('Lab 3');
    expect(s3MetadataValue('a\nb')).to.equal('a b');
    const encoded = s3MetadataValue('Université 日本');
    expect(encoded).to.match(/^=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=$/);
    expect(Buffer.from(encoded.slice(10, -2), 'base64').toString('utf8')).to.equal('Université 日本');
  });

  it("--meta past S3's 2 KB of user metadata is bad input (exit 1) before anything is stored, not S3's refusal after the retries (exit 2)", () => {
    expect(s3Metadata({ project: 'box-17' })).to.deep.equal({ project: 'box-17' });
    expect(() => s3Metadata({ description: 'x'.repeat(2100) })).to.throw(UserError, /--meta: 2122 bytes as S3 user metadata .* over S3's 2048/);
    // as sent: a non-ASCII value grows by a third (RFC 2047 base64)
    expect(() => s3Metadata({ note: 'é'.repeat(800) })).to.throw(UserError, /over S3's 2048/); // 1600 bytes of UTF-8, 2136 encoded
  });

  it('a label blkfs writes itself and RFC 8493 wants once (Payload-Oxum, Bagging-Date, Bag-Size, in any case) is bad user input', () => {
    for (const kv of ['Payload-Oxum=1.1', 'payload-oxum=1.1', 'Bagging-Date=2020-01-01', 'BAG-SIZE=1 GB']) {
      expect(() => parseArchiveMeta([kv]), kv).to.throw(UserError, /blkfs writes it itself/);
    }
    expect(parseArchiveMeta(['Bag-Group-Identifier=box-17', 'External-Identifier=inv-42']).bagInfo).to.have.length(2);
  });
});

import { expect } from 'chai';
import {
  createHasher,
  encodeMultihash,
  formatMultihash,
  hashBytes,
  hashLabel,
  HashType,
  HASH_TYPES,
  multihashLengthOf,
  parseHashTypeName,
  parseMultihash,
} from '../../../src/sbx/format/multihash';
import { parseMetadataPayload } from '../../../src/sbx/format/metadata';
import { readVector } from './vectors';

describe('sbx/multihash', () => {
  // [type, code bytes + digest length byte (hex), TLV length byte] — sbx-format.md §4.3
  const rows: [HashType, string, number, string][] = [
    ['sha1', '1114', 22, 'SHA1'],
    ['sha256', '1220', 34, 'SHA256'],
    ['sha512', '1340', 66, 'SHA512'],
    ['blake2b-256', 'b22020', 35, 'BLAKE2b-256'],
    ['blake2b-512', 'b24040', 67, 'BLAKE2b-512'],
    ['blake2s-128', 'b25010', 19, 'BLAKE2s-128'],
    ['blake2s-256', 'b26020', 35, 'BLAKE2s-256'],
  ];
  for (const [type, prefix, tlvLen, label] of rows) {
    it(`${type}: blkar's bytes ${prefix}…, TLV length ${tlvLen}, label ${label}, round trip`, () => {
      const digest = hashBytes(type, Buffer.from('abc'));
      const mh = encodeMultihash(type, digest);
      expect(mh.subarray(0, prefix.length / 2).toString('hex')).to.equal(prefix);
      expect(mh.length).to.equal(tlvLen);
      expect(multihashLengthOf(type)).to.equal(tlvLen);
      expect(hashLabel(type)).to.equal(label);
      expect(parseMultihash(mh)).to.deep.equal({ type, digest });
    });
  }

  it('known digests of "abc" (SHA-256, BLAKE2b with a 32-byte output parameter, not truncated BLAKE2b-512)', () => {
    expect(hashBytes('sha256', Buffer.from('abc')).toString('hex')).to.equal('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashBytes('blake2b-256', Buffer.from('abc')).toString('hex')).to.equal('bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319');
    expect(hashBytes('blake2b-256', Buffer.from('abc')).equals(hashBytes('blake2b-512', Buffer.from('abc')).subarray(0, 32))).to.equal(false);
  });

  it('incremental hashing equals one-shot hashing for every type', () => {
    const data = Buffer.from(Array.from({ length: 3000 }, (_, i) => i & 0xff));
    for (const t of HASH_TYPES) {
      const h = createHasher(t);
      h.update(data.subarray(0, 1));
      h.update(data.subarray(1, 1000));
      h.update(data.subarray(1000));
      expect(h.digest().equals(hashBytes(t, data)), t).to.equal(true);
    }
  });

  for (const t of ['sha1', 'sha512', 'blake2b-256', 'blake2b-512', 'blake2s-128', 'blake2s-256'] as HashType[]) {
    it(`the HSH blkar stored in hash-${t}.sbx equals our ${t} of the input`, () => {
      const meta = parseMetadataPayload(readVector(`hash-${t}.sbx`).subarray(16, 512));
      expect(meta.hsh?.type).to.equal(t);
      expect(meta.hsh?.digest.toString('hex')).to.equal(hashBytes(t, readVector(`hash-${t}.bin`)).toString('hex'));
    });
  }

  it('parses SHA2-512-256 (recognised, not computable) and rejects near misses', () => {
    const d = Buffer.alloc(32, 7);
    expect(parseMultihash(Buffer.concat([Buffer.from([0x13, 0x20]), d]))?.type).to.equal('sha2-512-256');
    expect(parseMultihash(Buffer.concat([Buffer.from([0x12, 0x20]), d.subarray(1)]))).to.equal(null); // short digest
    expect(parseMultihash(Buffer.concat([Buffer.from([0x12, 0x21]), d, Buffer.of(0)]))).to.equal(null); // wrong length byte
    expect(parseMultihash(Buffer.concat([Buffer.from([0xa0, 0xe4, 0x02, 0x20]), d]))).to.equal(null); // standard varint, not blkar's
  });

  it('names: case-insensitive, aliases, sha2-512-256 unsupported', () => {
    expect(parseHashTypeName('SHA256')).to.equal('sha256');
    expect(parseHashTypeName('sha2-256')).to.equal('sha256');
    expect(parseHashTypeName('sha2-512-512')).to.equal('sha512');
    expect(parseHashTypeName('BLAKE2b-512')).to.equal('blake2b-512');
    expect(parseHashTypeName('sha2-512-256')).to.equal(null);
    expect(parseHashTypeName('md5')).to.equal(null);
  });

  it('formats the Hash stat as blkar does', () => {
    expect(formatMultihash({ type: 'sha256', digest: Buffer.from('00ff', 'hex') })).to.equal('SHA256 - 00ff');
  });
});

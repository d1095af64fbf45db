import { expect } from 'chai';
import {
  encodeMetadataFields,
  encodeMetadataPayload,
  Metadata,
  MetadataTooLargeError,
  parseMetadataFields,
  parseMetadataPayload,
} from '../../../src/sbx/format/metadata';
import { encodeMultihash } from '../../../src/sbx/format/multihash';

const tlv = (id: string, value: Buffer): Buffer => Buffer.concat([Buffer.from(id, 'ascii'), Buffer.of(value.length), value]);
const u64 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};
const pad = (b: Buffer, size = 496): Buffer => Buffer.concat([b, Buffer.alloc(size - b.length, 0x1a)]);

describe('sbx/metadata', () => {
  const hsh = { type: 'sha256' as const, digest: Buffer.alloc(32, 0xab) };

  it("encodes in blkar's order FNM SNM FSZ FDT SDT HSH RSD RSP, then 0x1A filler", () => {
    const meta: Metadata = { rsp: 2, rsd: 10, hsh, sdt: 1500000000, fdt: 1500000000, fsz: 1000, snm: 'input.bin.ecsbx', fnm: 'input.bin' };
    const p = encodeMetadataPayload(meta, 17);
    const expected = pad(
      Buffer.concat([
        tlv('FNM', Buffer.from('input.bin')),
        tlv('SNM', Buffer.from('input.bin.ecsbx')),
        tlv('FSZ', u64(1000)),
        tlv('FDT', u64(1500000000)),
        tlv('SDT', u64(1500000000)),
        tlv('HSH', encodeMultihash('sha256', hsh.digest)),
        tlv('RSD', Buffer.of(10)),
        tlv('RSP', Buffer.of(2)),
      ]),
    );
    expect(p.equals(expected)).to.equal(true);
    expect(parseMetadataPayload(p)).to.deep.equal(meta);
  });

  it('FSZ above 2^32 and negative FDT round-trip', () => {
    const meta: Metadata = { fsz: 2 ** 40 + 5, fdt: -86400 };
    expect(parseMetadataPayload(encodeMetadataPayload(meta, 1))).to.deep.equal(meta);
  });

  it('"Too much metadata" when the records exceed the payload (v2: |FNM| + |SNM| ≤ 30)', () => {
    const base: Metadata = { fsz: 1, fdt: 1, sdt: 1, hsh };
    expect(() => encodeMetadataPayload({ ...base, fnm: 'a'.repeat(15), snm: 'b'.repeat(15) }, 2)).to.not.throw();
    expect(() => encodeMetadataPayload({ ...base, fnm: 'a'.repeat(15), snm: 'b'.repeat(16) }, 2)).to.throw(MetadataTooLargeError, /Too much metadata/);
    expect(() => encodeMetadataPayload({ ...base, rsd: 1, rsp: 1, fnm: 'a'.repeat(10), snm: 'b'.repeat(11) }, 18)).to.throw(MetadataTooLargeError);
  });

  it('the first occurrence of a field wins', () => {
    const p = pad(Buffer.concat([tlv('FNM', Buffer.from('first')), tlv('FNM', Buffer.from('second')), tlv('FSZ', u64(1)), tlv('FSZ', u64(2))]));
    expect(parseMetadataPayload(p)).to.deep.equal({ fnm: 'first', fsz: 1 });
    expect(parseMetadataFields(p).map((f) => f.id)).to.deep.equal(['FNM', 'FNM', 'FSZ', 'FSZ']);
  });

  it('padding is optional: records filling the payload exactly parse', () => {
    const exact = Buffer.concat([tlv('FSZ', u64(9)), tlv('FNM', Buffer.alloc(255, 0x61)), tlv('SNM', Buffer.alloc(496 - 12 - 259 - 4, 0x62))]);
    expect(exact.length).to.equal(496);
    const m = parseMetadataPayload(exact);
    expect([m.fsz, m.fnm?.length, m.snm?.length]).to.deep.equal([9, 255, 221]);
  });

  it('parsing stops at the first unparsable record (unknown ID, PID, bad fixed length, empty name, bad HSH)', () => {
    const fsz = tlv('FSZ', u64(5));
    const stoppers: [string, Buffer][] = [
      ['unknown ID', tlv('XYZ', Buffer.from('1'))],
      ['PID', tlv('PID', Buffer.alloc(6))],
      ['FSZ of 4 bytes', tlv('FSZ', Buffer.alloc(4))],
      ['RSD of 2 bytes', tlv('RSD', Buffer.alloc(2, 1))],
      ['empty FNM', tlv('FNM', Buffer.alloc(0))],
      ['HSH with an unknown code', tlv('HSH', Buffer.concat([Buffer.from([0x14, 0x20]), Buffer.alloc(32)]))],
      ['record running past the payload', Buffer.concat([Buffer.from('SNM'), Buffer.of(200), Buffer.alloc(10)])],
    ];
    for (const [what, bad] of stoppers) {
      const p = Buffer.concat([tlv('SDT', u64(7)), bad, fsz]);
      expect(parseMetadataPayload(p), what).to.deep.equal({ sdt: 7 });
    }
  });

  it('drops invalid UTF-8 names but keeps parsing after them', () => {
    const p = pad(Buffer.concat([tlv('FNM', Buffer.from([0xff, 0xfe])), tlv('SNM', Buffer.from('ok')), tlv('FSZ', u64(3))]));
    expect(parseMetadataPayload(p)).to.deep.equal({ snm: 'ok', fsz: 3 });
  });

  it('drops RSD/RSP equal to 0, and all RSD/RSP when the first RSD + first RSP > 256', () => {
    expect(parseMetadataPayload(pad(Buffer.concat([tlv('RSD', Buffer.of(0)), tlv('RSP', Buffer.of(2))])))).to.deep.equal({ rsp: 2 });
    expect(parseMetadataPayload(pad(Buffer.concat([tlv('RSD', Buffer.of(200)), tlv('RSP', Buffer.of(56))])))).to.deep.equal({ rsd: 200, rsp: 56 });
    expect(parseMetadataPayload(pad(Buffer.concat([tlv('RSD', Buffer.of(200)), tlv('RSP', Buffer.of(57)), tlv('RSD', Buffer.of(1)), tlv('FSZ', u64(4))])))).to.deep.equal({
      fsz: 4,
    });
  });

  it('an all-0x1A or all-zero payload has no fields', () => {
    expect(parseMetadataPayload(Buffer.alloc(496, 0x1a))).to.deep.equal({});
    expect(parseMetadataPayload(Buffer.alloc(496))).to.deep.equal({});
  });

  it('encodeMetadataFields keeps the given order (update keeps positions)', () => {
    const p = encodeMetadataFields(
      [
        { id: 'SNM', value: 's' },
        { id: 'FNM', value: 'f' },
      ],
      1,
    );
    expect(p.subarray(0, 10).toString('latin1')).to.equal('SNM\x01sFNM\x01f');
  });
});

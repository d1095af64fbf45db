// `blkfs sbx` as a drop-in for blkar 7.2.7 (issue 13), what the commands report: blkar's outputs, field by field, as
// its source states them (update_core.rs change listing, sort_core.rs order statistics, decode_core.rs failure
// breakdown, cli_calc.rs, check_core.rs, show_core.rs). Its command lines: blkar-drop-in-command-line.test.ts.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expect } from 'chai';
import { json, sbx, vector as v } from '../../helpers/blkar-cli';

describe('blkfs sbx is a drop-in for blkar 7.2.7', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-dropin-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('3. update -v --json lists metadataChanges', () => {
    it('per metadata copy: number, position and each changed field with old and new value; unchanged fields are not listed', () => {
      const c = path.join(dir, 'u.ecsbx');
      fs.copyFileSync(v('ec17-default-1000.ecsbx'), c);
      const r = json(['update', '-v', c, '--snm', 'u.ecsbx', '--fnm', 'ec17-default-1000.bin', '--no-hsh']);
      expect(r.code).to.equal(0);
      const changes = [
        { field: 'SNM', from: 'ec17-default-1000.ecsbx', to: 'u.ecsbx' },
        { field: 'HSH', from: 'SHA256 - 2459e63363a09a85f53050d27b4d5e9d484372ae4e6dfd09e8bc4be30a06a332', to: null },
      ];
      expect(r.doc).to.deep.equal({
        refBlockInfo: { type: 'metadata', ver: 17, pos: 0 },
        burstErrorResistanceLevel: 12,
        metadataChanges: [0, 6656, 13312].map((pos, i) => ({ metadataBlockNumber: i, foundAtByte: pos, changes })),
        stats: {
          sbxVersion: 17,
          blockSizeUsedInUpdating: 512,
          numberOfMetadataBlocksProcessed: 3,
          numberOfMetadataBlocksUpdated: 3,
          numberOfMetadataBlocksFailedToDecode: 0,
          timeElapsed: '00:00:00',
        },
        error: null,
      });
    });
  });

  describe('5. show --guess-burst', () => {
    it('gives null for versions 1–3 (no Reed-Solomon) and 12 for the default EC container', () => {
      const v1 = json(['show', v('v1-small.sbx'), '--guess-burst']).doc;
      expect(v1.refBlockInfo).to.deep.equal({ type: 'metadata', ver: 1, pos: 0 });
      expect(v1.bestGuessForBurstErrorResistanceLevel).to.equal(null);
      expect(json(['show', v('ec17-default-1000.ecsbx'), '--guess-burst']).doc.bestGuessForBurstErrorResistanceLevel).to.equal(12);
      expect(sbx(['show', v('v2-small.sbx'), '--guess-burst']).text).to.contain('Reference block version does not use Reed-Solomon erasure code\n');
    });
  });

  describe('6. decode to stdout reports failed blocks by kind', () => {
    it('EC: metadata, data and parity counts (the damaged vector lost 22 data blocks); versions 1–3: metadata and data', () => {
      const ec = json(['decode', v('ec17-default-200k.damaged.ecsbx'), '-'], 'stderr').doc.stats as Record<string, unknown>;
      expect(ec).to.include({ numberOfBlocksFailedToDecodeMetadata: 0, numberOfBlocksFailedToDecodeData: 22, numberOfBlocksFailedToDecodeParity: 0 });
      expect(ec).to.not.have.property('numberOfBlocksFailedToDecode');
      // A metadata copy (6656) and the block at 512 (seq 1, data) zeroed.
      const ecDamaged = Buffer.from(fs.readFileSync(v('ec17-default-1000.ecsbx')));
      ecDamaged.fill(0, 6656, 6656 + 512).fill(0, 512, 1024);
      const e = path.join(dir, 'ec-damaged.ecsbx');
      fs.writeFileSync(e, ecDamaged);
      const ec2 = json(['decode', e, '-'], 'stderr').doc.stats as Record<string, unknown>;
      expect(ec2).to.include({ numberOfBlocksFailedToDecodeMetadata: 1, numberOfBlocksFailedToDecodeData: 1, numberOfBlocksFailedToDecodeParity: 0 });
      const v1Damaged = Buffer.from(fs.readFileSync(v('v1-small.sbx')));
      v1Damaged.fill(0, 512, 1024); // seq 1
      const f = path.join(dir, 'v1-damaged.sbx');
      fs.writeFileSync(f, v1Damaged);
      const v1 = json(['decode', f, '-'], 'stderr').doc.stats as Record<string, unknown>;
      expect(v1).to.include({ numberOfBlocksFailedToDecodeMetadata: 0, numberOfBlocksFailedToDecodeData: 1 });
      expect(v1).to.not.have.property('numberOfBlocksFailedToDecodeParity');
      // blkar reads the EC layout seq by seq and stops at the last data chunk: the last set's padding and parity
      // blocks are not read or counted (3 metadata + seqs 1-3 here; 3 + seqs 1-484 for 200 kB).
      const ok = json(['decode', v('ec17-default-1000.ecsbx'), '-'], 'stderr').doc.stats as Record<string, unknown>;
      expect(ok).to.include({ numberOfBlocksProcessed: 6, numberOfBlocksDecodedMetadata: 3, numberOfBlocksDecodedData: 3, numberOfBlocksDecodedParity: 0 });
      expect(ec).to.include({ numberOfBlocksProcessed: 487, numberOfBlocksDecodedData: 404 - 22, numberOfBlocksDecodedParity: 80 });
      // To a file the total stays one number (decode.json).
      const file = json(['decode', '-f', v('ec17-default-200k.damaged.ecsbx'), path.join(dir, 'dmg.bin')]).doc.stats as Record<string, unknown>;
      expect(file).to.have.property('numberOfBlocksFailedToDecode');
    });
  });

  describe('7. sort statistics', () => {
    it('compare positions in the whole container, and every metadata copy once (at the first metadata block met)', () => {
      const st = json(['sort', v('ec17-default-1000.ecsbx'), path.join(dir, 'from1024'), '--from', '1024']).doc.stats as Record<string, unknown>;
      // The container is already sorted: every data/parity block from 1024 on is where it belongs. blkar checks the
      // metadata positions shifted by the range start (0+1024, 6656+1024, 13312+1024): none holds the metadata block.
      expect(st).to.include({
        numberOfBlocksSortedMetadata: 2,
        numberOfBlocksInSameOrderMetadata: 0,
        numberOfBlocksInDiffOrderMetadata: 3,
        numberOfBlocksInSameOrderData: 9,
        numberOfBlocksInDiffOrderData: 0,
        numberOfBlocksInSameOrderParity: 2,
        numberOfBlocksInDiffOrderParity: 0,
      });
    });
  });

  describe('8. encode --help', () => {
    it("carries blkar's version/extension table and its defaults line", () => {
      const help = sbx(['encode', '--help']).text;
      expect(help).to.contain('\nDetails of default option : sbx-version=17, rs-data=10, rs-parity=2, burst=12\n');
      expect(help).to.contain('(default) 17 (0x11) |      512 bytes |         yes |              supported |\n');
      expect(help).to.contain('          19 (0x13) |         .ecsbx |\n');
    });
  });

  describe('9. encode --info-only', () => {
    it("prints blkar's fields (container name, version, block and data size, RS, sizes, modification time) and writes nothing", () => {
      const input = path.join(dir, 'info.bin');
      fs.copyFileSync(v('v1-small.bin'), input);
      fs.utimesSync(input, 1600000001, 1600000001);
      const r = json(['encode', '--info-only', input]);
      expect(r.code).to.equal(0);
      const stats = r.doc.stats as Record<string, unknown>;
      expect(stats.fileModificationTime).to.match(/^2020-09-13 12:26:41 \(UTC\)  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(Local\)$/);
      expect({ ...r.doc, stats: { ...stats, fileModificationTime: 'T' } }).to.deep.equal({
        stats: {
          fileName: input,
          sbxContainerName: `${input}.ecsbx`,
          sbxContainerVersion: 17,
          sbxContainerBlockSize: 512,
          sbxContainerDataSize: 496,
          rsDataShardCount: 10,
          rsParityShardCount: 2,
          burstErrorResistanceLevel: 12,
          fileSize: 1000,
          sbxContainerSize: 69632,
          fileModificationTime: 'T',
        },
        error: null,
      });
      expect(fs.existsSync(`${input}.ecsbx`)).to.equal(false);
      const v1 = json(['encode', '--info-only', '--sbx-version', '1', input, dir]).doc.stats as Record<string, unknown>;
      expect(Object.keys(v1)).to.deep.equal(['fileName', 'sbxContainerName', 'sbxContainerVersion', 'sbxContainerBlockSize', 'sbxContainerDataSize', 'fileSize', 'sbxContainerSize', 'fileModificationTime']);
      expect([v1.sbxContainerName, v1.sbxContainerSize]).to.deep.equal([path.join(dir, 'info.bin.sbx'), 2048]);
    });

    it('stdin has no information (exit 1), and still needs an explicit output name first', () => {
      expect(json(['encode', '--info-only', '-', path.join(dir, 'x.ecsbx')])).to.deep.equal({ code: 1, doc: { error: 'No information is available for stdin input' } });
      expect(json(['encode', '--info-only', '-'])).to.deep.equal({ code: 1, doc: { error: 'Explicit output file name is required when input is stdin' } });
    });
  });

  describe('10. calc explains the parameters in blkar\'s words (cli_calc.rs)', () => {
    it('with a burst level, and without one', () => {
      const burst = sbx(['calc', '1000', '--sbx-version', '17', '--rs-data', '3', '--rs-parity', '2', '--burst', '1']).text;
      expect(burst).to.contain(
        [
          'Error correction parameters interpretation',
          '========================================',
          '    Warning :',
          '',
          '        Burst error resistance level of 1 may not provide',
          '        meaningful resistance.',
          '',
          '    The container can tolerate 2 burst SBX block corruptions in',
          '    each super block set (1 interleaved block sets).',
          '',
          '    A block set consists of 5 blocks (2560 bytes).',
          '',
          '    A super block set consists of 5 blocks (2560 bytes).',
          '',
          '    Each burst error may be up to 1 blocks (512 bytes) in size.',
          '',
          '    In total, 2 sets of 1 consecutive blocks (512 bytes) may be',
          '    corrupted in each super block set.',
          '',
          '    The sets of corrupted blocks may be connected as well, so the',
          '    largest single burst error that can be tolerated in each super',
          '    block set is 2 blocks (1024 bytes) in size.',
          '',
          '    Note that the actual tolerance depends on the behaviour of',
          '    the file system.',
          '',
          'File and container size',
        ].join('\n'),
      );
      const plain = sbx(['calc', '1000', '--sbx-version', '18', '--rs-data', '3', '--rs-parity', '2']).text;
      expect(plain).to.contain(
        [
          '    The container can tolerate 2 SBX block corruptions',
          '    in each block set.',
          '',
          '    A block set consists of 5 blocks (640 bytes).',
          '',
          '    In total, 2 blocks(256 bytes) may be corrupted in',
          '    each block set.',
          '',
          'File and container size',
        ].join('\n'),
      );
    });

    it('a size above the version\'s maximum still gets its figures (exit 0), with a note on stderr', () => {
      // Version 1 holds at most (2^32 - 1) x 496 = 2130303778320 bytes; one byte more needs seq 2^32.
      const { code, doc } = json(['calc', '2130303778321', '--sbx-version', '1']);
      expect(code).to.equal(0);
      expect(doc).to.deep.include({ error: null });
      expect(doc.stats).to.deep.include({ dataBlockCount: 4294967296, totalBlockCount: 4294967297, fileSize: 2130303778321, sbxContainerSize: 4294967297 * 512 });
      const human = sbx(['calc', '2130303778321', '--sbx-version', '1']);
      expect(human.code).to.equal(0);
      expect(human.text).to.contain('    SBX container size           : 2199023256064\n');
      expect(human.stderr).to.contain('exceeds the maximum of 2130303778320 bytes');
    });
  });

  describe('11. check -v --json lists "blocksFailed" first (check_core.rs: the blank blocks --report-blank counts)', () => {
    it('one {"pos"} per blank block with --report-blank; an empty list without it', () => {
      const all = json(['check', '-v', '--report-blank', v('ec17-default-1000.ecsbx')]);
      expect(all.code).to.equal(0);
      expect(Object.keys(all.doc)).to.deep.equal(['refBlockInfo', 'blocksFailed', 'stats', 'error']);
      const c = fs.readFileSync(v('ec17-default-1000.ecsbx'));
      const blanks: { pos: number }[] = [];
      for (let pos = 0; pos < c.length; pos += 512) if (c.subarray(pos, pos + 512).every((b) => b === 0)) blanks.push({ pos });
      expect(blanks.length).to.equal(121);
      expect(all.doc.blocksFailed).to.deep.equal(blanks);
      const none = json(['check', '-v', v('ec17-default-1000.ecsbx')]);
      expect(none.doc.blocksFailed).to.deep.equal([]);
      expect(Object.keys(json(['check', v('ec17-default-1000.ecsbx')]).doc)).to.deep.equal(['stats', 'error']);
    });
  });

  describe('13. check --hash with data blocks missing (sbx_container_content.rs)', () => {
    it('says hashing failed instead of printing a digest of zero-filled chunks; exit 0', () => {
      const r = json(['check', '--hash', v('ec17-default-200k.damaged.ecsbx')]);
      expect(r.code).to.equal(0);
      const st = r.doc.stats as Record<string, unknown>;
      expect([st.recordedHash, st.hashOfStoredData]).to.deep.equal([
        'SHA256 - 0d8c12a14420e27caeb90bf20bba73e81619b1100128d6d9c4428a5f37967596',
        'Error : Failed to decode data block',
      ]);
      const plain = sbx(['check', '--hash', '--pv', '0', v('ec17-default-200k.damaged.ecsbx')]);
      expect(plain.text).to.contain('\nEncountered error while hashing stored data, Error : Failed to decode data block\n');
      expect(plain.text).not.to.contain('does NOT match');
    });
  });

  describe('14. -v names the reference block first (misc_macros.rs get_ref_block!), and only -v', () => {
    it('decode, check, sort, repair and update: "refBlockInfo" first in JSON, "Using … block as reference block" for people', () => {
      const c = path.join(dir, 'verbose.ecsbx');
      fs.copyFileSync(v('ec17-default-1000.ecsbx'), c);
      const runs: Record<string, string[]> = {
        decode: ['decode', '-f', c, path.join(dir, 'verbose.out')],
        check: ['check', c],
        sort: ['sort', '-f', c, path.join(dir, 'verbose.sorted')],
        repair: ['repair', '-y', c],
        update: ['update', '-y', '--snm', 'verbose.ecsbx', c],
      };
      const info = { type: 'metadata', ver: 17, pos: 0 };
      for (const [name, args] of Object.entries(runs)) {
        const quiet = json(args);
        expect(quiet.code, name).to.equal(0);
        expect(Object.keys(quiet.doc), name).not.to.include('refBlockInfo');
        const loud = json([...args, '-v']);
        expect(loud.code, name).to.equal(0);
        expect(Object.keys(loud.doc)[0], name).to.equal('refBlockInfo');
        expect(loud.doc.refBlockInfo, name).to.deep.equal(info);
        const human = sbx([...args, '-v', '--pv', '0']);
        expect(human.text, name).to.contain('\nUsing metadata block as reference block, SBX version 17, located at byte 0 (0x0)\n\n');
      }
    });
  });

  describe('15. show prints every field of show_core.rs', () => {
    it('JSON: the RS shard counts are null for versions 1-3 (not left out)', () => {
      const b = (json(['show', v('v1-small.sbx')]).doc.blocks as Record<string, unknown>[])[0];
      expect(Object.keys(b)).to.deep.equal([
        'metadataBlockNumber', 'foundAtByte', 'fileUID', 'fileName', 'sbxContainerName', 'sbxContainerVersion',
        'rsDataShardCount', 'rsParityShardCount', 'fileSize', 'fileModificationTime', 'sbxEncodingTime', 'hash',
      ]);
      expect([b.rsDataShardCount, b.rsParityShardCount]).to.deep.equal([null, null]);
    });

    it('for people: the position in hex too, the version in hex for EC, the block number only with --show-all', () => {
      const one = sbx(['show', '--pv', '0', v('ec17-default-1000.ecsbx')]).text;
      expect(one).to.match(/^Found at byte          : 0 \(0x0\)\n\nFile UID               : 0C0000000001\n/);
      expect(one).to.contain('\nSBX container version  : 17 (0x11)\nRS data shard count    : 10\n');
      const v1 = sbx(['show', '--pv', '0', v('v1-small.sbx')]).text;
      expect(v1).to.contain('\nSBX container version  : 1\nRS data shard count    : version does not use RS\nRS parity shard count  : version does not use RS\n');
      const all = sbx(['show', '--pv', '0', '--show-all', v('ec17-default-1000.ecsbx')]).text;
      expect(all).to.match(/^Metadata block number : 0\n={40}\nFound at byte          : 0 \(0x0\)\n\n/);
      expect(all).to.contain('\n\nMetadata block number : 1\n========================================\nFound at byte          : 6656 (0x1A00)\n\n');
    });
  });
});

// `blkfs sbx` as a drop-in for blkar 7.2.7 (issue 13): blkar's command lines give blkar's outputs. Expected values
// follow blkar's rules as its source states them (misc_utils.rs byte ranges, general_error.rs "Error : ",
// update_core.rs change listing, sort_core.rs order statistics, decode_core.rs failure breakdown, cli_*.rs options).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expect } from 'chai';
import { VECTORS_DIR } from '../../helpers/vectors-dir';

const MAIN = path.resolve(__dirname, '../../../src/cli/main.js');

const v = (name: string) => path.join(VECTORS_DIR, name);

function sbx(args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, 'sbx', ...args], { input: '', maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, text: r.stdout.toString(), stderr: r.stderr.toString() };
}
/** A --json run's document with elapsed times zeroed. */
function json(args: string[], from: 'stdout' | 'stderr' = 'stdout'): { code: number | null; doc: Record<string, unknown> } {
  const r = sbx([...args, '--json']);
  const text = from === 'stdout' ? r.text : r.stderr;
  return { code: r.code, doc: JSON.parse(text.replace(/"(\d\d:\d\d:\d\d)"/g, '"00:00:00"')) };
}

describe('blkfs sbx is a drop-in for blkar 7.2.7', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-dropin-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('1. byte ranges read whole blocks; the end only decides whether another block read starts', () => {
    it('check --from 512 --to-inc 512 checks the whole block at 512 (1 passed); an end below --from still checks one block', () => {
      const expected = {
        sbxVersion: 17,
        blockSizeUsedInChecking: 512,
        numberOfBlocksProcessed: 1,
        numberOfBlocksPassedCheckMetadata: 0,
        numberOfBlocksPassedCheckData: 1,
        numberOfBlocksFailedCheck: 0,
        timeElapsedForBlockCheck: '00:00:00',
        timeElapsed: '00:00:00',
      };
      for (const range of [['--to-inc', '512'], ['--to-exc', '513'], ['--to-inc', '0']]) {
        const r = json(['check', v('ec17-default-1000.ecsbx'), '--from', '512', ...range]);
        expect(r.code).to.equal(0);
        expect(r.doc).to.deep.equal({ stats: expected, error: null });
      }
    });

    it('decode -f --from 1024 --to-inc 1024 decodes the whole block there (chunk 1), the rest stays zeros', () => {
      const out = path.join(dir, 'range.bin');
      const r = json(['decode', '-f', v('v1-small.sbx'), out, '--from', '1024', '--to-inc', '1024']);
      expect(r.code).to.equal(0);
      const st = r.doc.stats as Record<string, unknown>;
      expect([st.numberOfBlocksProcessed, st.numberOfBlocksDecodedMetadata, st.numberOfBlocksDecodedData, st.numberOfBlocksFailedToDecode]).to.deep.equal([1, 0, 1, 0]);
      const want = Buffer.alloc(1000);
      fs.readFileSync(v('v1-small.bin')).copy(want, 496, 496, 992);
      expect(fs.readFileSync(out).equals(want)).to.equal(true);
    });

    it('sort --from 1024 --to-inc 1024 sorts the block there to its place', () => {
      const out = path.join(dir, 'range.sorted');
      const r = json(['sort', v('v1-small.sbx'), out, '--from', '1024', '--to-inc', '1024']);
      expect(r.code).to.equal(0);
      const st = r.doc.stats as Record<string, unknown>;
      expect([st.numberOfBlocksProcessed, st.numberOfBlocksSortedData, st.numberOfBlocksInSameOrderData, st.numberOfBlocksFailedToSort]).to.deep.equal([1, 1, 1, 0]);
      const want = Buffer.concat([Buffer.alloc(1024), fs.readFileSync(v('v1-small.sbx')).subarray(1024, 1536)]);
      expect(fs.readFileSync(out).equals(want)).to.equal(true);
    });

    it('rescue --from X --to-inc 512 --force-misalign rescues the block at the misaligned X', () => {
      const block = fs.readFileSync(v('v1-small.sbx')).subarray(512, 1024); // seq 1
      const disk = Buffer.alloc(8192);
      block.copy(disk, 1000);
      const diskPath = path.join(dir, 'disk.img');
      fs.writeFileSync(diskPath, disk);
      const outDir = fs.mkdtempSync(path.join(dir, 'rescued-'));
      const r = json(['rescue', diskPath, outDir, '--from', '1000', '--to-inc', '512', '--force-misalign']);
      expect(r.code).to.equal(0);
      // blkar counts every byte it read: one 128-byte step that found a header, then the rest of the block.
      expect(r.doc.stats).to.deep.equal({ numberOfBytesProcessed: 512, numberOfBlocksProcessed: 1, numberOfBlocksProcessedMetadata: 0, numberOfBlocksProcessedData: 1 });
      expect(fs.readFileSync(path.join(outDir, '0A0000000002')).equals(block)).to.equal(true);
    });
  });

  describe('2. errors raised inside a workflow read "Error : <message>"', () => {
    it('in JSON and in plain text, exit 2; a command-line check stays unprefixed (exit 1)', () => {
      const zeros = path.join(dir, 'zeros');
      fs.writeFileSync(zeros, Buffer.alloc(10000));
      const j = json(['check', zeros]);
      expect(j.code).to.equal(2);
      expect(j.doc).to.deep.equal({ error: 'Error : Failed to find reference block' });
      const plain = sbx(['check', zeros]);
      expect(plain.code).to.equal(2);
      expect(plain.text).to.equal('Error : Failed to find reference block\n');
      const missing = json(['check', path.join(dir, 'nope.sbx')]);
      expect(missing.code).to.equal(1);
      expect(missing.doc).to.deep.equal({ error: `File "${path.join(dir, 'nope.sbx')}" does not exist` });
      const usage = json(['encode', v('v1-small.bin'), path.join(dir, 'x.sbx'), '--burst', '3']);
      expect(usage.code).to.equal(1);
      expect(usage.doc).to.deep.equal({ error: 'Please state the SBX version explicitly if you want to use a custom burst error resistance level' });
    });

    it('an I/O error of the system met by the command (an output in a missing directory) reads "Error : <message>" too, exit 2', () => {
      const out = path.join(dir, 'no-such-dir', 'x.sbx');
      const plain = sbx(['encode', v('v1-small.bin'), out]);
      expect(plain.code).to.equal(2);
      expect(plain.text).to.match(/^Error : ENOENT: no such file or directory, open '.*x\.sbx'\n$/);
      const j = json(['decode', v('v1-small.sbx'), out]);
      expect(j.code).to.equal(2);
      expect(j.doc.error).to.match(/^Error : ENOENT: /);
    });

    it('an invalid --pv is reported like any other bad input: in the JSON "error" with --json, on stdout, exit 1', () => {
      expect(json(['check', v('v1-small.sbx'), '--pv', '3'])).to.deep.equal({ code: 1, doc: { error: 'Invalid progress report verbosity level' } });
      const plain = sbx(['check', v('v1-small.sbx'), '--pv', 'x']);
      expect([plain.code, plain.text]).to.deep.equal([1, 'Invalid progress report verbosity level\n']);
    });

    it('check --hash on a version 1 container without metadata: blkar\'s own message', () => {
      const r = json(['check', '--hash', '--no-meta', v('v1-nometa.sbx')]);
      expect(r.code).to.equal(2);
      expect(r.doc.error).to.equal('Error : Reference block is not a metadata block');
    });
  });

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

  describe("4. every option of blkar 7.2.7's option lists is accepted", () => {
    // cli_encode.rs … cli_calc.rs (plus cli_utils.rs's shared args), long names only.
    const BLKAR_OPTIONS: Record<string, string[]> = {
      encode: ['force', 'hash', 'no-meta', 'pv', 'sbx-version', 'uid', 'rs-data', 'rs-parity', 'from', 'skip-to', 'to-inc', 'to-exc', 'burst', 'info-only', 'json'],
      decode: ['force', 'multi-pass', 'multi-pass-no-skip', 'no-meta', 'pv', 'ref-from', 'ref-to-inc', 'ref-to-exc', 'guess-burst-from', 'from', 'skip-to', 'to-inc', 'to-exc', 'force-misalign', 'burst', 'verbose', 'json'],
      check: ['no-meta', 'pv', 'report-blank', 'verbose', 'from', 'skip-to', 'to-inc', 'to-exc', 'force-misalign', 'ref-from', 'ref-to-inc', 'ref-to-exc', 'burst', 'guess-burst-from', 'hash', 'hash-only', 'json'],
      show: ['show-all', 'only-pick-uid', 'force-misalign', 'pv', 'guess-burst-from', 'from', 'skip-to', 'to-inc', 'to-exc', 'guess-burst', 'json'],
      repair: ['pv', 'burst', 'verbose', 'skip-warning', 'dry-run', 'json'],
      rescue: ['only-pick-block', 'only-pick-uid', 'force-misalign', 'pv', 'from', 'skip-to', 'to-inc', 'to-exc', 'json'],
      sort: ['force', 'multi-pass', 'multi-pass-no-skip', 'pv', 'dry-run', 'ref-from', 'ref-to-inc', 'ref-to-exc', 'guess-burst-from', 'from', 'skip-to', 'to-inc', 'to-exc', 'force-misalign', 'burst', 'report-blank', 'verbose', 'json'],
      update: ['pv', 'burst', 'verbose', 'skip-warning', 'dry-run', 'json', 'fnm', 'snm', 'no-fnm', 'no-snm', 'hash', 'no-hsh'],
      calc: ['sbx-version', 'no-meta', 'rs-data', 'rs-parity', 'burst', 'json'],
    };
    const VALUE: Record<string, string> = { hash: 'sha256', 'sbx-version': '1', uid: '0123456789ab', 'only-pick-uid': '0123456789ab', 'only-pick-block': 'any', fnm: 'x', snm: 'x' };
    const VALUED = ['from', 'skip-to', 'to-inc', 'to-exc', 'ref-from', 'ref-to-inc', 'ref-to-exc', 'guess-burst-from', 'burst', 'pv', 'rs-data', 'rs-parity', ...Object.keys(VALUE)];
    for (const [command, options] of Object.entries(BLKAR_OPTIONS)) {
      it(`${command}: its ${options.length} options`, () => {
        const missing = path.join(dir, 'missing.sbx');
        const positional = command === 'calc' ? ['1000'] : command === 'rescue' ? [missing, dir] : [missing];
        for (const o of options) {
          const valued = VALUED.includes(o) && !(o === 'hash' && command === 'check');
          const args = valued ? [`--${o}`, VALUE[o] ?? '0'] : [`--${o}`];
          const r = sbx([command, ...positional, ...args]);
          // commander says "unknown option" for anything it does not know; a known option gets to the run.
          expect(r.stderr + r.text, `${command} --${o}`).to.not.match(/unknown option/);
          // Options that need --sbx-version are refused first (as blkar does); the rest reach the missing input.
          if (command !== 'calc' && !(command === 'encode' && ['rs-data', 'rs-parity', 'burst'].includes(o))) expect(r.text, `${command} --${o}`).to.contain('does not exist');
        }
      });
    }

    it('show --force-misalign finds a metadata block at a misaligned --from; without it --from rounds down to 128', () => {
      const mis = path.join(dir, 'mis.sbx');
      fs.writeFileSync(mis, Buffer.concat([Buffer.alloc(100, 0x78), fs.readFileSync(v('v1-small.sbx'))]));
      const found = json(['show', mis, '--from', '100', '--force-misalign']);
      expect((found.doc.blocks as { foundAtByte: number }[]).map((b) => b.foundAtByte)).to.deep.equal([100]);
      expect(json(['show', mis, '--from', '100']).doc).to.deep.equal({ blocks: [], error: null });
    });

    it('sort --guess-burst-from N guesses the burst level from byte N (one block off: level 11, not 12)', () => {
      expect(json(['sort', v('ec17-default-1000.ecsbx'), path.join(dir, 'g0'), '--guess-burst-from', '0']).doc.burstErrorResistanceLevel).to.equal(12);
      expect(json(['sort', v('ec17-default-1000.ecsbx'), path.join(dir, 'g1'), '--guess-burst-from', '512']).doc.burstErrorResistanceLevel).to.equal(11);
    });
  });

  describe('4b. numbers as Rust reads them ("+3", any u64), kept exact', () => {
    it('show --from +100 --force-misalign, and --from 2^60 (past the end: nothing), exit 0; --to-inc 2^64 − 1 means to the end', () => {
      const mis = path.join(dir, 'mis-plus.sbx');
      fs.writeFileSync(mis, Buffer.concat([Buffer.alloc(100, 0x78), fs.readFileSync(v('v1-small.sbx'))]));
      expect((json(['show', mis, '--from', '+100', '--force-misalign']).doc.blocks as { foundAtByte: number }[]).map((b) => b.foundAtByte)).to.deep.equal([100]);
      expect(json(['show', mis, '--from', String(2n ** 60n)])).to.deep.equal({ code: 0, doc: { blocks: [], error: null } });
      const max = json(['show', mis, '--to-inc', '18446744073709551615', '--force-misalign', '--from', '100']);
      expect(max.code).to.equal(0);
      expect((max.doc.blocks as { foundAtByte: number }[]).map((b) => b.foundAtByte)).to.deep.equal([100]);
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

  describe('12. sort OUT that is a directory (cli_sort.rs)', () => {
    it('writes OUT/<file part of SBX>.sorted', () => {
      const out = fs.mkdtempSync(path.join(dir, 'sorted-'));
      const r = json(['sort', v('v1-small.sbx'), out]);
      expect(r.code).to.equal(0);
      expect(fs.readFileSync(path.join(out, 'v1-small.sbx.sorted')).equals(fs.readFileSync(v('v1-small.sbx')))).to.equal(true);
      expect(json(['sort', v('v1-small.sbx'), out]).doc.error).to.equal(`File "${path.join(out, 'v1-small.sbx.sorted')}" already exists`);
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

// `blkfs sbx` as a drop-in for blkar 7.2.7 (issue 13), its command lines: blkar's options and numbers are accepted,
// byte ranges mean what misc_utils.rs makes them mean, errors read as general_error.rs writes them ("Error : "),
// an output directory is named as cli_sort.rs names it. What the commands report: blkar-drop-in-reports.test.ts.
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

  describe('12. sort OUT that is a directory (cli_sort.rs)', () => {
    it('writes OUT/<file part of SBX>.sorted', () => {
      const out = fs.mkdtempSync(path.join(dir, 'sorted-'));
      const r = json(['sort', v('v1-small.sbx'), out]);
      expect(r.code).to.equal(0);
      expect(fs.readFileSync(path.join(out, 'v1-small.sbx.sorted')).equals(fs.readFileSync(v('v1-small.sbx')))).to.equal(true);
      expect(json(['sort', v('v1-small.sbx'), out]).doc.error).to.equal(`File "${path.join(out, 'v1-small.sbx.sorted')}" already exists`);
    });
  });
});

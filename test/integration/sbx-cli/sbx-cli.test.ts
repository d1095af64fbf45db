// Runs the real binary (`node dist/src/cli/main.js sbx …`) as users do: exit codes, output bytes, JSON.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import { expect } from 'chai';
import { VECTORS_DIR } from '../../helpers/vectors-dir';

const MAIN = path.resolve(__dirname, '../../../src/cli/main.js');

const v = (name: string) => path.join(VECTORS_DIR, name);

function sbx(args: string[], opts: { cwd?: string; input?: string | Buffer; timeout?: number } = {}) {
  const r = spawnSync(process.execPath, [MAIN, 'sbx', ...args], { cwd: opts.cwd, input: opts.input ?? '', maxBuffer: 64 << 20, timeout: opts.timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString(), text: r.stdout.toString() };
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** The vector's JSON, without blkar's trailing "exit=N" note and with elapsed times zeroed. */
function reference(name: string): unknown {
  return JSON.parse(fs.readFileSync(v(`json/${name}`), 'utf8').replace(/exit=\d+\s*$/, ''));
}
function zeroTimes(text: string): unknown {
  return JSON.parse(text.replace(/"(\d\d:\d\d:\d\d)"/g, '"00:00:00"'));
}

describe('blkfs sbx (CLI)', function () {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-sbx-cli-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('JSON output matches blkar\'s recorded outputs', () => {
    it('calc (defaults and v18)', () => {
      expect(zeroTimes(sbx(['calc', '1000000', '--json']).text)).to.deep.equal(reference('calc-1000000.json'));
      const r = sbx(['calc', '1000000', '--json', '--sbx-version', '18', '--rs-data', '4', '--rs-parity', '2', '--burst', '3']);
      expect(r.text).to.equal(fs.readFileSync(v('json/calc-1000000-v18.json'), 'utf8'));
    });

    it('encode with a fixed UID', () => {
      const r = sbx(['encode', v('ec17-default-1000.bin'), path.join(dir, 'e.ecsbx'), '--json', '--uid', '0C0000000009']);
      expect(r.code).to.equal(0);
      expect(zeroTimes(r.text)).to.deep.equal(reference('encode.json'));
    });

    it('decode, check (damaged and --hash), show, sort, rescue, update, repair -v', () => {
      const out = path.join(dir, 'd.bin');
      expect(zeroTimes(sbx(['decode', v('ec17-default-1000.ecsbx'), out, '--json']).text)).to.deep.equal(reference('decode.json'));
      expect(sha(fs.readFileSync(out))).to.equal(sha(fs.readFileSync(v('ec17-default-1000.bin'))));
      expect(zeroTimes(sbx(['check', v('ec17-default-200k.damaged.ecsbx'), '--json']).text)).to.deep.equal(reference('check-damaged.json'));
      expect(zeroTimes(sbx(['check', v('ec17-default-200k.ecsbx'), '--json', '--hash']).text)).to.deep.equal(reference('check-hash.json'));
      expect(zeroTimes(sbx(['show', v('ec17-default-1000.ecsbx'), '--json']).text)).to.deep.equal(reference('show.json'));
      expect(zeroTimes(sbx(['show', v('ec17-default-1000.ecsbx'), '--json', '--show-all', '--guess-burst']).text)).to.deep.equal(reference('show-all-guess-burst.json'));
      expect(zeroTimes(sbx(['sort', v('ec17-default-1000.ecsbx'), path.join(dir, 's.ecsbx'), '--json']).text)).to.deep.equal(reference('sort.json'));
      fs.mkdirSync(path.join(dir, 'r'));
      expect(zeroTimes(sbx(['rescue', v('ec17-default-1000.ecsbx'), path.join(dir, 'r'), '--json']).text)).to.deep.equal(reference('rescue.json'));
      fs.copyFileSync(v('ec17-default-1000.ecsbx'), path.join(dir, 'u.ecsbx'));
      expect(zeroTimes(sbx(['update', path.join(dir, 'u.ecsbx'), '--json', '--snm', 'u.ecsbx']).text)).to.deep.equal(reference('update.json'));
      const dmg = path.join(dir, 'dmg.ecsbx');
      fs.copyFileSync(v('ec17-default-200k.damaged.ecsbx'), dmg);
      const r = sbx(['repair', dmg, '--json', '-v']);
      // Byte for byte, blank lines included (blkar prints one after each block set report).
      expect(r.text.replace(/"\d\d:\d\d:\d\d"/g, '"00:00:00"')).to.equal(fs.readFileSync(v('json/repair-verbose.json'), 'utf8'));
      expect(sha(fs.readFileSync(dmg))).to.equal(sha(fs.readFileSync(v('ec17-default-200k.ecsbx'))));
    });
  });

  describe('exit codes and errors', () => {
    it('missing input: exit 1 with blkar\'s message', () => {
      const r = sbx(['decode', 'nonexistent.sbx', '--json'], { cwd: dir });
      expect(r.code).to.equal(1);
      expect(JSON.parse(r.text)).to.deep.equal(reference('error-nonexistent.json'));
    });

    it('usage errors exit 1: RS options without --sbx-version, --uid not 12 hex digits, EC version without --rs-data', () => {
      expect(sbx(['encode', v('v1-small.bin'), path.join(dir, 'x'), '--burst', '3']).code).to.equal(1);
      expect(sbx(['encode', v('v1-small.bin'), path.join(dir, 'x'), '--uid', '0123']).code).to.equal(1);
      expect(sbx(['encode', v('v1-small.bin'), path.join(dir, 'x'), '--sbx-version', '17']).code).to.equal(1);
      expect(sbx(['calc', 'abc']).code).to.equal(1);
      expect(fs.existsSync(path.join(dir, 'x'))).to.equal(false);
    });

    it('an unreadable container is a failure during the operation (exit 2) with "error" in JSON', () => {
      const f = path.join(dir, 'zeros');
      fs.writeFileSync(f, Buffer.alloc(10000));
      const r = sbx(['check', f, '--json']);
      expect(r.code).to.equal(2);
      expect(JSON.parse(r.text)).to.deep.equal({ error: 'Error : Failed to find reference block' });
    });

    it('a pipe (FIFO) as the container is refused up front (exit 1): these commands read blocks at random positions', () => {
      const fifo = path.join(dir, 'fifo');
      spawnSync('mkfifo', [fifo]);
      const out = path.join(dir, 'from-fifo');
      for (const args of [['decode', fifo, out], ['check', fifo], ['sort', fifo, out], ['show', fifo], ['rescue', fifo, dir], ['repair', '-y', fifo], ['update', '-y', fifo, '--fnm', 'a']]) {
        const r = sbx(args, { timeout: 10_000 }); // opening a FIFO without a writer would block
        expect(r.code, args.join(' ') + r.text).to.equal(1);
        expect(r.text, args[0]).to.contain(`File "${fifo}" is a pipe (FIFO): ${args[0]} needs a regular file or block device`);
      }
      expect(fs.existsSync(out)).to.equal(false);
    });

    it('update with an empty name, or a name set and removed at once, is refused (exit 1) and the container untouched', () => {
      const c = path.join(dir, 'names.ecsbx');
      fs.copyFileSync(v('e18.ecsbx'), c);
      // An empty FNM record ends blkar's metadata parsing: every field after it (RSD/RSP, FSZ, HSH) would be lost.
      for (const args of [['--fnm', ''], ['--snm', ''], ['--fnm', 'a', '--no-fnm'], ['--no-snm', '--snm', 'b']]) {
        const r = sbx(['update', '-y', c, ...args]);
        expect(r.code, args.join(' ') + r.text).to.equal(1);
        expect(fs.readFileSync(c).equals(fs.readFileSync(v('e18.ecsbx'))), args.join(' ')).to.equal(true);
      }
    });

    it("a stored name with terminal controls (a crafted container): show and update print them as <U+XXXX>, --json keeps them exact", () => {
      const c = path.join(dir, 'crafted.ecsbx');
      fs.copyFileSync(v('e18.ecsbx'), c);
      const name = 'a\x1b]0;x\x07\u202E';
      const u = sbx(['update', '-y', '-v', c, '--fnm', name]);
      expect(u.code, u.text).to.equal(0);
      expect(u.text).to.not.include('\x1b');
      expect(u.text).to.include('a<U+001B>]0;x<U+0007><U+202E>');
      const shown = sbx(['show', c]);
      expect(shown.code).to.equal(0);
      expect(shown.text).to.not.match(/[\x1b\u202E]/);
      expect(shown.text).to.include('File name              : a<U+001B>]0;x<U+0007><U+202E>');
      expect(JSON.parse(sbx(['show', '--json', c]).text).blocks[0].fileName).to.equal(name);
    });

    it('existing output without -f: exit 1 and the file is left alone; --multi-pass writes into it', () => {
      const out = path.join(dir, 'exists.bin');
      fs.writeFileSync(out, 'keep');
      expect(sbx(['decode', v('v1-small.sbx'), out]).code).to.equal(1);
      expect(fs.readFileSync(out, 'utf8')).to.equal('keep');
      expect(sbx(['decode', '--multi-pass', '--multi-pass-no-skip', v('v1-small.sbx'), out]).code).to.equal(1);
      expect(fs.readFileSync(out, 'utf8')).to.equal('keep');
      // --multi-pass writes into the existing file (no -f needed), keeps a whole non-blank chunk already there
      // and fills the rest.
      fs.writeFileSync(out, Buffer.concat([Buffer.from('keep'), Buffer.alloc(492, 'k')]));
      expect(sbx(['decode', '--multi-pass', v('v1-small.sbx'), out]).code).to.equal(0);
      const want = Buffer.from(fs.readFileSync(v('v1-small.bin')));
      want.write('keep' + 'k'.repeat(492));
      expect(fs.readFileSync(out).equals(want)).to.equal(true);
      expect(sbx(['decode', '-f', v('v1-small.sbx'), out]).code).to.equal(0);
      expect(sha(fs.readFileSync(out))).to.equal(sha(fs.readFileSync(v('v1-small.bin'))));
    });
  });

  describe('streams, prompts and defaults', () => {
    it('encode - (stdin) then decode - (stdout) round-trips; reports go to stderr', () => {
      const data = fs.readFileSync(v('v1-100k.bin'));
      const c = path.join(dir, 'stdin.ecsbx');
      expect(sbx(['encode', '-', c], { input: data }).code).to.equal(0);
      const r = sbx(['decode', c, '-', '--json']);
      expect(r.code).to.equal(0);
      expect(sha(r.stdout)).to.equal(sha(data));
      expect(JSON.parse(r.stderr).stats.hashOfOutputFile).to.equal(JSON.parse(r.stderr).stats.recordedHash);
    });

    it('decode - into a reader that stops early (| head -c 10) ends quietly, without a stack trace', () => {
      const data = fs.readFileSync(v('v1-100k.bin'));
      const c = path.join(dir, 'pipe.ecsbx');
      expect(sbx(['encode', '-', c], { input: data }).code).to.equal(0);
      // 100 kB of output: more than a pipe holds, so writes go on after head has gone.
      const r = spawnSync('bash', ['-c', `"${process.execPath}" "${MAIN}" sbx decode "${c}" - | head -c 10 >/dev/null; exit \${PIPESTATUS[0]}`]);
      expect(r.stderr.toString()).not.to.match(/EPIPE|at .*\.js:\d+/);
      expect(r.status, r.stderr.toString()).to.equal(0);
    });

    it('a standard output that cannot be written (> /dev/full) is a failure (exit 2) with a message, not a stack trace', () => {
      for (const cmd of [`sbx decode "${v('v1-100k.sbx')}" -`, `sbx decode --json "${v('v1-100k.sbx')}" -`, `sbx show "${v('v1-small.sbx')}"`, 'sbx calc 1000']) {
        const r = spawnSync('bash', ['-c', `"${process.execPath}" "${MAIN}" ${cmd} >/dev/full`]);
        const stderr = r.stderr.toString();
        expect(stderr, cmd).not.to.match(/at .*\.js:\d+|throw err/);
        expect(stderr, cmd).to.match(/no space left on device/i);
        expect(r.status, cmd + stderr).to.equal(2);
      }
    });

    it('default encode output name INFILE.ecsbx, default decode name = stored FNM', () => {
      const work = path.join(dir, 'names');
      fs.mkdirSync(work);
      fs.copyFileSync(v('v1-small.bin'), path.join(work, 'in.bin'));
      const enc = sbx(['encode', 'in.bin'], { cwd: work });
      expect(enc.code, enc.text + enc.stderr).to.equal(0);
      expect(fs.existsSync(path.join(work, 'in.bin.ecsbx'))).to.equal(true);
      fs.mkdirSync(path.join(work, 'out'));
      const dec = sbx(['decode', 'in.bin.ecsbx', 'out'], { cwd: work });
      expect(dec.code, dec.text + dec.stderr).to.equal(0);
      expect(sha(fs.readFileSync(path.join(work, 'out', 'in.bin')))).to.equal(sha(fs.readFileSync(v('v1-small.bin'))));
    });

    it('repair asks first: "n" leaves the file untouched (exit 0), "y" repairs', () => {
      const dmg = path.join(dir, 'ask.ecsbx');
      fs.copyFileSync(v('ec17-default-200k.damaged.ecsbx'), dmg);
      const no = sbx(['repair', dmg], { input: 'n\n' });
      expect(no.code).to.equal(0);
      expect(no.text).to.contain('Do you wish to continue? [y/N]');
      expect(sha(fs.readFileSync(dmg))).to.equal(sha(fs.readFileSync(v('ec17-default-200k.damaged.ecsbx'))));
      const yes = sbx(['repair', dmg], { input: 'y\n' });
      expect(yes.code).to.equal(0);
      expect(sha(fs.readFileSync(dmg))).to.equal(sha(fs.readFileSync(v('ec17-default-200k.ecsbx'))));
    });

    it('repair on version 1 prints a notice and exits 0', () => {
      const r = sbx(['repair', '-y', v('v1-small.sbx')]);
      expect(r.code).to.equal(0);
      expect(r.text).to.contain('does not use Reed-Solomon');
    });

    it('--json with --pv 2 prints progress as JSON lines on stderr', () => {
      const r = sbx(['check', v('ec17-default-200k.ecsbx'), '--json', '--pv', '2']);
      const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.length).to.be.greaterThan(0);
      expect(lines[lines.length - 1]).to.include({ header: 'SBX block checking progress', unit: 'bytes', unitsSoFar: 292864 });
    });
  });
});

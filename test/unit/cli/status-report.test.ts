import { expect } from 'chai';
import { etaSeconds, formatStatusReport, StatusJson } from '../../../src/cli/status-report';
import { terminalMap } from '../../../src/map';

const MB = 1_000_000;
const status: StatusJson = {
  size: 100 * MB,
  sectorSize: 512,
  bytesCached: 40 * MB,
  bytesBad: 1024,
  bytesUntried: 50 * MB,
  bytesNonTrimmed: 10 * MB - 1024,
  bytesNonScraped: 0,
  readRateBytesPerSec: 2 * MB,
  phase: '?',
  pass: 1,
  currentPos: 40 * MB,
  acquiring: true,
  sbx: { image: { phase: 'acquiring', bytesDone: 40 * MB, bytesTotal: 100 * MB }, containersFound: 1 },
  server: { source: '/dev/sr0', mountpoint: '/mnt/disk', cacheDir: '/c', log: '/c/mount.log', http: 'http://127.0.0.1:8080/' },
};
const extents = [
  { pos: 0, size: 40 * MB, status: '+' as const },
  { pos: 40 * MB, size: 1024, status: '-' as const },
  { pos: 40 * MB + 1024, size: 10 * MB - 1024, status: '*' as const },
  { pos: 50 * MB, size: 50 * MB, status: '?' as const },
];

describe('blkfs status report', () => {
  it('tells rescued %, what is left, bad areas, rate with ETA, phase, the SBX acquisition, the finds, cache and log', () => {
    const text = formatStatusReport(status, extents, [{ uid: '0123456789ab', files: ['a.txt', 'info.json'] }], { colour: false, columns: 40 });
    expect(text).to.include('rescued:        40% (40.0 MB)');
    expect(text).to.include('bad:            1.02 kB in 1 area, largest 1.02 kB');
    expect(text).to.include('read rate:      2.00 MB/s, ETA 30s');
    expect(text).to.include('phase:          copying non-tried blocks (pass 1) at 0x02625A00, acquisition running');
    expect(text).to.include('sbx image:      acquiring for image.sbx: 40% (40.0 MB of 100 MB), 2.00 MB/s, ETA 30s');
    expect(text).to.include('rescued/0123456789ab/a.txt');
    expect(text).to.include('log:            /c/mount.log');
    expect(text).to.not.include('\x1b');
    expect(etaSeconds(status)).to.be.closeTo(30, 0.01);
  });

  it('draws the one-line map plain with ddrescue characters, or coloured with ANSI, and marks the position', () => {
    const plain = terminalMap(extents, 100 * MB, { columns: 10, colour: false, currentPos: 40 * MB });
    expect(plain).to.equal('++++-?????\n    ^');
    const coloured = terminalMap(extents, 100 * MB, { columns: 10, colour: true });
    expect(coloured).to.match(/^\x1b\[38;2;32;224;32m████\x1b\[38;2;255;0;0m█\x1b\[38;2;144;144;144m█████\x1b\[0m$/);
  });

  it('names the reads the server failed for a passing reason in the source line, only when there are some', () => {
    const source = { state: 'connected', lostEvents: 0, reconnects: 0 };
    const none = formatStatusReport({ ...status, source, deviceTransientReads: 0 }, extents, [], { colour: false, columns: 40 });
    expect(none).to.not.include('source:');
    const some = formatStatusReport({ ...status, source, deviceTransientReads: 3 }, extents, [], { colour: false, columns: 40 });
    expect(some).to.include('source:         connected, 3 reads failed by the server for a passing reason (left untried)');
  });

  it('says when storing into the cache failed (still failing, or not since), only when it did', () => {
    expect(formatStatusReport(status, extents, [], { colour: false, columns: 40 })).to.not.include('cache writes:');
    const failure = { message: 'cache disk full while writing /c/data.img: nothing new was recorded as read; free space and retry', at: '2026-11-30T16:00:00.000Z' };
    const now = formatStatusReport({ ...status, storeFailure: { ...failure, ongoing: true } }, extents, [], { colour: false, columns: 40 });
    expect(now).to.include(`cache writes:   FAILING (latest at 2026-11-30T16:00:00.000Z): ${failure.message}`);
    const past = formatStatusReport({ ...status, storeFailure: { ...failure, ongoing: false } }, extents, [], { colour: false, columns: 40 });
    expect(past).to.include('cache writes:   ok again (last failed at 2026-11-30T16:00:00.000Z): cache disk full');
  });

  it("gives the ETA /status gives (an acquisition's domain, not the whole medium), as the web page does", () => {
    // `blkfs acquire -i 40MB -s 1MB`: /status says 1 s left; the whole medium's 60 MB would take 30 s.
    const text = formatStatusReport({ ...status, etaSeconds: 1 }, extents, [], { colour: false, columns: 40 });
    expect(text).to.include('read rate:      2.00 MB/s, ETA 1s');
    const idle = formatStatusReport({ ...status, etaSeconds: null }, extents, [], { colour: false, columns: 40 });
    expect(idle).to.include('read rate:      2.00 MB/s\n');
  });
  it("shows the medium's names (rescued finds) and what a server or DAT says with controls and bidi overrides as <U+XXXX>", () => {
    const s: StatusJson = {
      ...status,
      source: { state: 'connected', lostEvents: 1, reconnects: 1, lastEvent: 'server said \x1b]0;pwned\x07' },
      checksums: { complete: true, digests: { crc32: '0', md5: '0', sha1: '0', sha256: '0' }, dat: { text: 'matches "Game\u202Eexe.txt"' } },
    };
    const text = formatStatusReport(s, extents, [{ uid: '0123456789ab', files: ['invoice\u202Etxt.exe', 'c1\u009b2J'] }], { colour: false, columns: 40 });
    expect(text).to.not.match(/[\x1b\x07\u009b\u202e]/);
    expect(text).to.include('rescued/0123456789ab/invoice<U+202E>txt.exe').and.include('rescued/0123456789ab/c1<U+009B>2J');
    expect(text).to.include('server said <U+001B>]0;pwned<U+0007>').and.include('matches "Game<U+202E>exe.txt"');
  });
});

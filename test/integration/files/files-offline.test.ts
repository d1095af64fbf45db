// `blkfs files IMAGE MAPFILE` on real filesystems built by the real tools, with bad ranges placed over chosen
// files' data, over a directory's entries and in free space: the report names exactly the damaged files with
// exact bad byte counts, and calls every other file intact.
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { EntryReport, FileReportJson } from '../../../src/files/file-report';
import { BadRange, truthMapfile, withZeros } from '../../helpers/truth-mapfile';
import { ext4Image, fatImage, isoImage, mbrImage, ntfsImage, offsetOf, randomTree, Tree } from '../../helpers/filesystems';
import { blkfs, cleanup, tempDir } from '../mount/harness';

const TREE_SIZES = {
  'keep.txt': 3000,
  'photos/a.jpg': 20000,
  'photos/b.jpg': 30000,
  'docs/y.txt': 500,
  'docs/deep/deepfile-unique.bin': 9000,
};

/** Writes the rescue as ddrescue leaves it: bad bytes zero in the image, marked '-' in the mapfile. */
function rescue(dir: string, image: string, bad: BadRange[], tag: string): { img: string; map: string } {
  const bytes = withZeros(fs.readFileSync(image), bad);
  const img = path.join(dir, `${tag}.rescued.img`);
  const map = path.join(dir, `${tag}.map`);
  fs.writeFileSync(img, bytes);
  fs.writeFileSync(map, truthMapfile(bytes.length, bad));
  return { img, map };
}

async function report(img: string, map: string, mapText?: string): Promise<FileReportJson> {
  if (mapText !== undefined) fs.writeFileSync(map, mapText);
  const r = await blkfs(['files', img, map, '--json']);
  expect(r.code, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as FileReportJson;
}

function byPath(rep: FileReportJson, fsIndex = 0): Map<string, EntryReport> {
  return new Map(rep.entries.filter((e) => e.fs === fsIndex).map((e) => [e.path, e]));
}

function files_(rep: FileReportJson): EntryReport[] {
  return files(rep).sort((a, b) => a.path.localeCompare(b.path));
}

function files(rep: FileReportJson): EntryReport[] {
  return rep.entries.filter((e) => e.kind === 'file');
}

describe('files: blkfs files IMAGE MAPFILE on real filesystems (TSK)', function () {
  let dir: string;
  let tree: Tree;

  before(() => {
    dir = tempDir('files');
    tree = randomTree(TREE_SIZES);
  });
  after(() => cleanup(dir));

  it('ext4: names exactly the files under bad ranges with exact bad byte counts; free-space damage touches no file', async () => {
    const image = ext4Image(dir, 'ext4', tree);
    const bytes = fs.readFileSync(image);
    const a = offsetOf(bytes, tree['photos/a.jpg']);
    const b = offsetOf(bytes, tree['photos/b.jpg']);
    const freeAt = 12 << 20;
    expect(bytes.subarray(freeAt, freeAt + 0x10000).every((x) => x === 0)).to.equal(true);
    const bad = [
      { offset: a + 4096, length: 1024 }, // inside a.jpg
      { offset: b + 29696, length: 1024 }, // b.jpg's last 304 bytes, then its slack
      { offset: freeAt, length: 0x10000 }, // free space
    ];
    const rep = await report(...Object.values(rescue(dir, image, bad, 'ext4')) as [string, string]);
    const got = byPath(rep);
    expect(rep.filesystems.map((f) => f.type)).to.deep.equal(['ext4']);
    expect(got.get('/photos/a.jpg')).to.include({ verdict: 'damaged', bad: 1024, untried: 0, rescued: 20000 - 1024, size: 20000 });
    expect(got.get('/photos/b.jpg')).to.include({ verdict: 'damaged', bad: 304, untried: 0, rescued: 30000 - 304 });
    const others = files(rep).filter((e) => !e.path.startsWith('/photos/'));
    expect(others.map((e) => e.path).sort()).to.deep.equal(['/docs/deep/deepfile-unique.bin', '/docs/y.txt', '/keep.txt']);
    for (const e of others) expect(e, e.path).to.include({ verdict: 'intact', bad: 0, untried: 0, rescued: e.size });
    expect(rep.summary).to.include({ files: 5, intact: 3, damaged: 2, incomplete: 0, unknown: 0, unreadableDirectories: 0 });
    expect(rep.summary.badBytesOutsideFiles).to.equal(0x10000 + 1024 - 304);
    expect(rep.filesystems[0]).to.include({ structureBad: 0, structureUntried: 0 }); // free space is not structure
  });

  it('ext4: a directory whose entries are in a bad sector is reported unreadable, nothing under it is called intact', async () => {
    const image = ext4Image(dir, 'ext4dir', tree);
    const bytes = fs.readFileSync(image);
    const entry = offsetOf(bytes, Buffer.from('deepfile-unique.bin'));
    const block = entry - (entry % 1024);
    const rep = await report(...Object.values(rescue(dir, image, [{ offset: block, length: 1024 }], 'ext4dir')) as [string, string]);
    const got = byPath(rep);
    expect(got.get('/docs/deep')).to.include({ kind: 'directory', verdict: 'damaged', bad: 1024 });
    for (const e of rep.entries.filter((x) => x.path.startsWith('/docs/deep/'))) expect(e.verdict, e.path).to.equal('unknown');
    for (const e of files(rep).filter((x) => !x.path.startsWith('/docs/deep/'))) expect(e.verdict, e.path).to.equal('intact');
    expect(files(rep).map((e) => e.path)).to.include.members(['/keep.txt', '/photos/a.jpg', '/photos/b.jpg', '/docs/y.txt']);
    expect(rep.summary).to.include({ damaged: 0, unreadableDirectories: 1 });
    const text = await blkfs(['files', path.join(dir, 'ext4dir.rescued.img'), path.join(dir, 'ext4dir.map'), '--damaged']);
    expect(text.stdout).to.match(/^damaged dir +1024 +1024 +0 +\/docs\/deep$/m);
    expect(text.stdout).to.not.match(/keep\.txt/);
  });

  it('ext4: a file whose inode is in a bad sector is unknown, and the filesystem says its structures are damaged', async () => {
    const image = ext4Image(dir, 'ext4inode', tree);
    // Where each file's inode lies, from e2fsprogs (not TSK): "located at block B, offset 0xO".
    const inodeAt = (p: string) => {
      const out = execFileSync('debugfs', ['-R', `imap /${p}`, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const m = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(out)!;
      return Number(m[1]) * 1024 + parseInt(m[2], 16);
    };
    const sector = (n: number) => n - (n % 512);
    const badSector = sector(inodeAt('photos/b.jpg'));
    const rep = await report(...Object.values(rescue(dir, image, [{ offset: badSector, length: 512 }], 'ext4inode')) as [string, string]);
    for (const p of Object.keys(tree)) {
      const e = byPath(rep).get(`/${p}`);
      if (sector(inodeAt(p)) === badSector) {
        expect(e, p).to.include({ verdict: 'unknown' });
        expect(e!.reason, p).to.match(/could not read its metadata/);
      } else expect(e, p).to.include({ verdict: 'intact' });
    }
    expect(rep.filesystems[0]).to.include({ structureBad: 512, structureUntried: 0 });
    const text = await blkfs(['files', path.join(dir, 'ext4inode.rescued.img'), path.join(dir, 'ext4inode.map')]);
    expect(text.stdout).to.contain('512 bad bytes in its structures');
  });

  it('ext2: a file whose indirect block TSK cannot read (past the end of a partial image) is unknown, not an intact empty file', async () => {
    const src = fs.mkdtempSync(path.join(dir, 'ext2ind-src-'));
    fs.writeFileSync(path.join(src, 'long.bin'), tree['photos/b.jpg']); // 30 blocks of 1 KiB: 12 direct, 18 behind one indirect block
    fs.writeFileSync(path.join(src, 'short.txt'), tree['docs/y.txt']);
    const image = path.join(dir, 'ext2ind.img');
    execFileSync('mkfs.ext2', ['-q', '-F', '-b', '1024', '-d', src, image, '4M'], { env: { ...process.env, E2FSPROGS_FAKE_TIME: '1700000000' } });
    // Where the indirect block lies, from e2fsprogs (not TSK): "(IND):303".
    const stat = execFileSync('debugfs', ['-R', 'stat /long.bin', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const indirect = Number(/\(IND\):(\d+)/.exec(stat)![1]) * 1024;
    // A ddrescue rescue stopped before the indirect block: the image ends there, the rest of the map is non-tried.
    const img = path.join(dir, 'ext2ind.partial.img');
    fs.writeFileSync(img, fs.readFileSync(image).subarray(0, indirect));
    const size = fs.statSync(image).size;
    const map = path.join(dir, 'ext2ind.map');
    const rep = await report(img, map, `0 ? 1\n0 ${indirect} +\n${indirect} ${size - indirect} ?\n`);
    expect(byPath(rep).get('/long.bin')).to.include({ verdict: 'unknown' });
    expect(byPath(rep).get('/long.bin')!.reason).to.match(/could not read its metadata/);
    expect(byPath(rep).get('/short.txt')).to.include({ size: 500 }).and.not.include({ verdict: 'unknown' });
  });

  it('ext4: inline data and sparse holes count as read when the inode tables are; inline data follows them', async () => {
    const src = fs.mkdtempSync(path.join(dir, 'inline-src-'));
    fs.writeFileSync(path.join(src, 'tiny.txt'), 'tiny\n');
    const sparse = fs.openSync(path.join(src, 'sparse.bin'), 'w');
    fs.writeSync(sparse, tree['keep.txt'], 0, 3000, 200_000); // a hole, then 3000 bytes
    fs.closeSync(sparse);
    const image = path.join(dir, 'inline.img');
    execFileSync('mkfs.ext4', ['-q', '-F', '-O', '^has_journal,inline_data', '-d', src, image, '16M']);
    const clean = await report(image, path.join(dir, 'inline.map'), truthMapfile(16 << 20, []));
    const tiny = byPath(clean).get('/tiny.txt')!;
    expect(tiny).to.include({ verdict: 'intact', size: 5, rescued: 5 });
    expect(byPath(clean).get('/sparse.bin')).to.include({ verdict: 'intact', size: 203_000, rescued: 203_000 });
    // Its inode's sector untried or bad: TSK reads EIO there (as from a mount), so the file is unknown either way; the
    // image's bytes there (here the real inode) are never taken for its size or its data.
    const inodeTable = (() => {
      const out = execFileSync('debugfs', ['-R', 'imap /tiny.txt', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const m = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(out)!;
      return Number(m[1]) * 1024 + parseInt(m[2], 16);
    })();
    const hex = (n: number) => '0x' + n.toString(16);
    const s = inodeTable - (inodeTable % 512);
    const partial = await report(image, path.join(dir, 'inline2.map'), `0 +\n0 ${hex(s)} +\n${hex(s)} 0x200 ?\n${hex(s + 512)} ${hex((16 << 20) - s - 512)} +\n`);
    expect(byPath(partial).get('/tiny.txt')).to.include({ verdict: 'unknown' });
    const badInode = await report(image, path.join(dir, 'inline4.map'), truthMapfile(16 << 20, [{ offset: s, length: 512 }]));
    expect(byPath(badInode).get('/tiny.txt')).to.include({ verdict: 'unknown' });
    // A hole is no place on the medium (TSK writes it as a run at byte 0): a bad boot block leaves the file intact.
    const bootBad = await report(image, path.join(dir, 'inline3.map'), truthMapfile(16 << 20, [{ offset: 0, length: 512 }]));
    expect(byPath(bootBad).get('/sparse.bin')).to.include({ verdict: 'intact', bad: 0 });
  });

  it('ext4 inline data: paths are the files\' own, without the ":DATA" TSK appends; a name really ending in ":DATA" keeps it', async () => {
    const src = fs.mkdtempSync(path.join(dir, 'inline-names-src-'));
    fs.mkdirSync(path.join(src, 'd'));
    fs.writeFileSync(path.join(src, 'd', 'f1'), '1\n'); // in an inline directory
    fs.writeFileSync(path.join(src, 'small:DATA'), 'small\n');
    fs.writeFileSync(path.join(src, 'big:DATA'), tree['keep.txt']); // in blocks, not inline
    const image = path.join(dir, 'inline-names.img');
    execFileSync('mkfs.ext4', ['-q', '-F', '-O', '^has_journal,inline_data', '-d', src, image, '8M']);
    const rep = await report(image, path.join(dir, 'inline-names.map'), truthMapfile(8 << 20, []));
    const paths = rep.entries.filter((e) => e.kind !== 'metadata' && e.path !== '/lost+found').map((e) => e.path);
    expect(paths.sort()).to.deep.equal(['/', '/big:DATA', '/d', '/d/f1', '/small:DATA']);
    expect(byPath(rep).get('/d/f1')).to.include({ verdict: 'intact', size: 2 });
  });

  it('NTFS: system files are metadata; a small file resident in its MFT record follows that record', async () => {
    const files = { 'tiny.txt': Buffer.from('tiny resident text\n'), 'big.bin': tree['photos/a.jpg'] };
    const image = ntfsImage(dir, 'ntfs', files);
    const bytes = fs.readFileSync(image);
    const clean = await report(image, path.join(dir, 'ntfs-clean.map'), truthMapfile(bytes.length, []));
    expect(clean.filesystems.map((f) => f.type)).to.deep.equal(['NTFS']);
    expect(files_(clean).map((e) => [e.path, e.verdict, e.rescued])).to.deep.equal([
      ['/big.bin', 'intact', 20000],
      ['/tiny.txt', 'intact', 19],
    ]);
    expect(clean.entries.find((e) => e.path === '/$MFT')).to.include({ kind: 'metadata' });
    // The sector holding tiny.txt's data (inside its MFT record) is bad: TSK gets EIO there (as from a mount) and lists
    // less (TSK 4.11 stops listing the root directory there); never is tiny.txt called intact, and the report says the
    // filesystem's structures are damaged, so files may be missing from the list.
    const at = offsetOf(bytes, files['tiny.txt']);
    const rep = await report(...Object.values(rescue(dir, image, [{ offset: at - (at % 512), length: 512 }], 'ntfs')) as [string, string]);
    expect(byPath(rep).get('/tiny.txt')?.verdict ?? 'not listed').to.be.oneOf(['unknown', 'not listed']);
    for (const e of files_(rep)) if (e.path !== '/big.bin') expect(e.verdict, e.path).to.not.equal('intact');
    expect(rep.filesystems[0].structureBad + rep.filesystems[0].metadataBad).to.equal(512);
  });

  it('FAT and ISO9660 (Rock Ridge + Joliet): exact bad bytes in the chosen file, every other file intact', async () => {
    for (const [kind, image] of [
      ['FAT12', fatImage(dir, 'fat', tree)],
      ['ISO9660', isoImage(dir, 'iso', tree)],
    ] as const) {
      const bytes = fs.readFileSync(image);
      const y = offsetOf(bytes, tree['docs/y.txt']);
      const rep = await report(...Object.values(rescue(dir, image, [{ offset: y + 100, length: 400 }], kind)) as [string, string]);
      expect(rep.filesystems.map((f) => f.type)).to.deep.equal([kind]);
      const damaged = files(rep).filter((e) => e.verdict !== 'intact');
      expect(damaged.map((e) => [e.path.toLowerCase(), e.bad]), kind).to.deep.equal([['/docs/y.txt', 400]]);
      expect(files(rep).length, kind).to.equal(5);
    }
  });

  it('FAT with a volume label: the label is no file (TSK lists it as an empty one), so the count is the real files', async () => {
    const image = fatImage(dir, 'labelled', { 'a.txt': tree['keep.txt'] }, 8192, ['-n', 'MYCARD']);
    const rep = await report(...Object.values(rescue(dir, image, [], 'labelled')) as [string, string]);
    expect(files(rep).map((e) => e.path.toLowerCase())).to.deep.equal(['/a.txt']);
    expect(rep.summary.files).to.equal(1);
    expect(rep.entries.find((e) => e.path.includes('(Volume Label Entry)'))).to.include({ kind: 'metadata', verdict: 'intact' });
  });

  it('FAT: a root file of the user\'s named "… (Volume Label Entry)" is a file, counted and its damage reported; the real label is not', async () => {
    const notes = tree['keep.txt'];
    const image = fatImage(dir, 'labellike', { 'notes (Volume Label Entry)': notes }, 8192, ['-n', 'MYCARD']);
    const at = offsetOf(fs.readFileSync(image), notes);
    const rep = await report(...Object.values(rescue(dir, image, [{ offset: at, length: 512 }], 'labellike')) as [string, string]);
    expect(files(rep).map((e) => [e.path, e.verdict, e.bad])).to.deep.equal([['/notes (Volume Label Entry)', 'damaged', 512]]);
    expect(rep.summary).to.include({ files: 1, damaged: 1 });
    expect(rep.entries.filter((e) => e.kind === 'metadata' && e.path.endsWith('(Volume Label Entry)')).map((e) => e.path)).to.deep.equal(['/MYCARD      (Volume Label Entry)']);
  });

  it('MBR with two filesystems and an unreadable partition: paths per filesystem, the unreadable one said plainly', async () => {
    const ext = ext4Image(dir, 'p1', tree, '8M');
    const fat = fatImage(dir, 'p2', tree, 4096);
    const junk = path.join(dir, 'junk.img');
    fs.writeFileSync(junk, randomTree({ junk: 1 << 20 }).junk);
    const image = mbrImage(dir, 'mbr', [
      { type: 0x83, start: 2048, image: ext },
      { type: 0x0c, start: 2048 + 16384, image: fat },
      { type: 0x83, start: 2048 + 16384 + 8192, image: junk },
    ], 28 << 20);
    const bytes = fs.readFileSync(image);
    const fatStart = (2048 + 16384) * 512;
    const a = offsetOf(bytes, tree['photos/a.jpg'], fatStart);
    const rep = await report(...Object.values(rescue(dir, image, [{ offset: a, length: 512 }], 'mbr')) as [string, string]);
    expect(rep.filesystems.map((f) => [f.type, f.offset, f.partition?.slot])).to.deep.equal([
      ['ext4', 2048 * 512, 1],
      ['FAT12', fatStart, 2],
    ]);
    expect(rep.problems).to.have.length(1);
    expect(rep.problems[0]).to.match(/^partition 3 .*cannot read its filesystem/);
    const damaged = files(rep).filter((e) => e.verdict !== 'intact');
    expect(damaged.map((e) => [e.fs, e.path.toLowerCase(), e.bad])).to.deep.equal([[1, '/photos/a.jpg', 512]]);
    expect(files(rep)).to.have.length(10);
  });

  it('a bad sector in the free space of a partition is not called damage to its structures', async () => {
    const fat = fatImage(dir, 'freepart', tree, 4096);
    const image = mbrImage(dir, 'freepart-mbr', [{ type: 0x06, start: 2048, image: fat }], 6 << 20);
    const freeAt = 2048 * 512 + 1000 * 512; // 500 KiB into a filesystem holding ~60 KiB of files
    expect(fs.readFileSync(image).subarray(freeAt, freeAt + 0x10000).every((x) => x === 0)).to.equal(true);
    const rep = await report(...Object.values(rescue(dir, image, [{ offset: freeAt, length: 512 }], 'freepart')) as [string, string]);
    expect(rep.filesystems[0]).to.include({ offset: 2048 * 512, structureBad: 0, metadataBad: 0 });
    expect(rep.summary).to.include({ damaged: 0, unknown: 0, badBytesOutsideFiles: 512 });
  });

  it('ISO9660 cut short (image and mapfile end inside a file): that file is unknown, never intact', async () => {
    const image = isoImage(dir, 'cut', tree);
    const bytes = fs.readFileSync(image);
    const b = offsetOf(bytes, tree['photos/b.jpg']);
    const cut = b + 10240; // the image ends 10 KiB into b.jpg
    const img = path.join(dir, 'cut.partial.img');
    fs.writeFileSync(img, bytes.subarray(0, cut));
    const rep = await report(img, path.join(dir, 'cut.map'), `0 + 1\n0 ${cut} +\n`);
    const e = files(rep).find((x) => x.path.toLowerCase() === '/photos/b.jpg')!;
    expect(e).to.include({ verdict: 'unknown', rescued: 10240, untried: 30000 - 10240 });
    expect(e.reason).to.match(/past the end of the medium/);
    for (const [p, content] of Object.entries(tree)) {
      if (offsetOf(bytes, content) + content.length <= cut) expect(byPath(rep).get(`/${p}`), p).to.include({ verdict: 'intact' });
    }
  });

  it('a medium with no filesystem TSK knows is said plainly, with exit 0 and no files', async () => {
    const junk = path.join(dir, 'nofs.img');
    fs.writeFileSync(junk, randomTree({ junk: 2 << 20 }).junk);
    const map = path.join(dir, 'nofs.map');
    fs.writeFileSync(map, truthMapfile(2 << 20, []));
    const r = await blkfs(['files', junk, map]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^not read: no filesystem The Sleuth Kit can read \(UDF, for one, it cannot\)/m);
    expect(r.stdout).to.contain('0 files');
  });

  it('bytes not yet tried make a file incomplete, counted exactly; a mapfile shorter than the image leaves the rest untried', async () => {
    const image = ext4Image(dir, 'partial', tree);
    const bytes = fs.readFileSync(image);
    const k = offsetOf(bytes, tree['keep.txt']);
    const map = path.join(dir, 'partial.map');
    const hex = (n: number) => '0x' + n.toString(16);
    fs.writeFileSync(map, `${hex(k)} ? 1\n0 ${hex(k + 1000)} +\n${hex(k + 1000)} 0x400 ?\n${hex(k + 2024)} 0x3d0 +\n`);
    const rep = await report(image, map);
    expect(byPath(rep).get('/keep.txt')).to.include({ verdict: 'incomplete', bad: 0, untried: 1024, rescued: 3000 - 1024 });
    for (const [p, content] of Object.entries(tree)) {
      if (p === 'keep.txt') continue;
      const beyondMap = offsetOf(bytes, content) >= k + 3000;
      const e = byPath(rep).get(`/${p}`);
      // Beyond the map: the file's bytes are untried, and so may be its inode or directory, which TSK then cannot
      // read (EIO, as from a mount): incomplete, unknown, or not listed at all; never intact.
      if (beyondMap) {
        if (e) expect(String([e.verdict, e.untried]), p).to.be.oneOf([['incomplete', content.length], ['unknown', content.length], ['unknown', 0]].map(String));
      } else expect(e?.verdict, p).to.equal('intact');
    }
  });

  it('bad input: exit 1 with the mapfile named with its line, or the missing file named', async () => {
    const image = ext4Image(dir, 'input', { 'f.txt': Buffer.from('x') });
    const map = path.join(dir, 'broken.map');
    fs.writeFileSync(map, '0 +\n0 0x100 +\nnonsense\n');
    const broken = await blkfs(['files', image, map]);
    expect(broken.code).to.equal(1);
    expect(broken.stderr).to.contain(`${map}: Error in mapfile, line 3`);
    const missing = await blkfs(['files', path.join(dir, 'nope.img'), map]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain('nope.img');
  });

  it('an image shorter than its mapfile\'s rescued data (cut short in a copy, or another rescue\'s map): exit 1, no file called intact', async () => {
    const image = fatImage(dir, 'short', { 'big.bin': tree['photos/b.jpg'] });
    const size = fs.statSync(image).size;
    const bytes = fs.readFileSync(image);
    const cut = offsetOf(bytes, tree['photos/b.jpg']) + 100; // most of big.bin's bytes are not in it
    const img = path.join(dir, 'short.cut.img');
    fs.writeFileSync(img, bytes.subarray(0, cut));
    const map = path.join(dir, 'short.map');
    fs.writeFileSync(map, truthMapfile(size, []));
    const r = await blkfs(['files', img, map]);
    expect(r.code, r.stdout).to.equal(1);
    expect(r.stderr).to.contain(`${img} has ${cut} bytes, but its mapfile ${map} says bytes up to ${size} were rescued`);
    expect(r.stdout).to.equal('');
  });

  it('an image given without its mapfile: exit 1 saying to give the mapfile too, not only "not a mountpoint"', async () => {
    const image = ext4Image(dir, 'alone', { 'f.txt': Buffer.from('x') });
    const r = await blkfs(['files', image]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('give its mapfile too (blkfs files IMAGE MAPFILE)');
  });

  it('--json with --csv: exit 1 saying the two cannot be used together, no report printed', async () => {
    const image = ext4Image(dir, 'both', { 'f.txt': Buffer.from('x') });
    const map = path.join(dir, 'both.map');
    fs.writeFileSync(map, truthMapfile(fs.statSync(image).size, []));
    const r = await blkfs(['files', image, map, '--json', '--csv']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/--json.*cannot be used with.*--csv/);
    expect(r.stdout).to.equal('');
  });
});

// Temporary directories carry their process's id: what a killed process left behind is removed by the next one of the
// same kind, and nothing of a live process, of another name, not a directory, or (for a mount's kind) not empty.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { makeOwnedTempDir } from '../../src/temp-dirs';

describe('temporary directories named after their process', () => {
  let base: string;
  let deadPid: number;
  beforeEach(() => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'temp-dirs-test-'));
    deadPid = spawnSync('true').pid as number; // it has exited
  });
  afterEach(() => fs.rmSync(base, { recursive: true, force: true }));

  /** Makes `name` in base; a directory unless `file`. */
  function make(name: string, file = false): string {
    const p = path.join(base, name);
    if (file) fs.writeFileSync(p, 'x');
    else fs.mkdirSync(p);
    return name;
  }

  it("'tree': a dead process's directory goes with its contents; a live one's, an older name and a file stay", async () => {
    const dead = make(`blkfs-tsk-${deadPid}-Ab12Cd`);
    fs.writeFileSync(path.join(base, dead, 'layout.db'), Buffer.alloc(1 << 20));
    fs.symlinkSync('/nonexistent/raw', path.join(base, dead, 'medium'));
    const kept = [
      make(`blkfs-tsk-${process.pid}-Ef34Gh`), // a run of this process, still going
      make('blkfs-tsk-Ij56Kl'), // named before directories carried their pid: whose, nobody knows
      make(`blkfs-tsk-${deadPid}-file`, true),
      make(`blkfs-other-${deadPid}-Mn78Op`), // another kind
    ];

    const dir = await makeOwnedTempDir('blkfs-tsk-', 'tree', base);

    expect(path.basename(dir)).to.match(new RegExp(`^blkfs-tsk-${process.pid}-[A-Za-z0-9]+$`));
    expect(fs.statSync(dir).mode & 0o777).to.equal(0o700);
    expect(fs.readdirSync(base).sort()).to.deep.equal([path.basename(dir), ...kept].sort());
  });

  it("'empty': a dead process's directory of empty mountpoints goes; one with anything in them stays", async () => {
    const empty = make(`blkfs-private-${deadPid}-Ab12Cd`);
    fs.mkdirSync(path.join(base, empty, 'mnt'));
    const full = make(`blkfs-private-${deadPid}-Ef34Gh`);
    fs.mkdirSync(path.join(base, full, 'mnt'));
    fs.writeFileSync(path.join(base, full, 'mnt', 'image'), 'bytes that were never ours to remove');

    const dir = await makeOwnedTempDir('blkfs-private-', 'empty', base);

    expect(fs.readdirSync(base).sort()).to.deep.equal([path.basename(dir), full].sort());
    expect(fs.readdirSync(path.join(base, full, 'mnt'))).to.deep.equal(['image']);
  });
});

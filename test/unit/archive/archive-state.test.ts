import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { abandonedUpload, loadState, lockState, saveState, stateFileFor } from '../../../src/archive/archive-state';

describe('archive/archive-state resume state and lock', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-arcstate-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps the parts stored for one container; another container starts afresh', () => {
    const file = stateFileFor(dir, 's3://b/p/x');
    const s = { label: 's3://b/p/x', uid: 'AA', containerSize: 100, partSize: 10, started: 'now', resume: { uploadId: 'u', parts: { 1: { n: 1, size: 10, md5: '', sha256: 'ab' } } } };
    saveState(file, s);
    expect(loadState(file, s)).to.deep.equal(s);
    expect(loadState(file, { ...s, uid: 'BB' })).to.equal(undefined);
    expect(loadState(file, { ...s, partSize: 20 })).to.equal(undefined);
  });

  it("an unfinished upload of another container or part size is named when the archive starts afresh (its parts stay billed until aborted; review)", () => {
    const file = stateFileFor(dir, 's3://b/p/x');
    const s = { label: 's3://b/p/x', uid: 'AA', containerSize: 100, partSize: 10, started: 'now', resume: { uploadId: 'u1', parts: {} } };
    saveState(file, s);
    expect(abandonedUpload(file, { ...s, partSize: 20 })).to.equal('u1');
    expect(abandonedUpload(file, s), 'the same container: resumed, not abandoned').to.equal(undefined);
    saveState(file, { ...s, resume: { parts: {} } }); // a directory's state has no upload
    expect(abandonedUpload(file, { ...s, partSize: 20 })).to.equal(undefined);
    expect(abandonedUpload(path.join(dir, 'none.json'), s)).to.equal(undefined);
  });

  it('a damaged state file (JSON null, a number, not JSON) is no state: the archive starts afresh', () => {
    const file = stateFileFor(dir, 's3://b/p/x');
    const expectOf = { label: 's3://b/p/x', uid: 'AA', containerSize: 100, partSize: 10 };
    fs.mkdirSync(path.dirname(file), { recursive: true });
    for (const text of ['null', '7', '"x"', '{']) {
      fs.writeFileSync(file, text);
      expect(loadState(file, expectOf), text).to.equal(undefined);
    }
  });

  it('one archive per destination: a live holder is named, a dead one is taken over', () => {
    const file = stateFileFor(dir, '/bags/x');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(`${file}.lock`, String(process.ppid)); // a live process
    expect(lockState(file)).to.equal(process.ppid);
    fs.writeFileSync(`${file}.lock`, '2147483646'); // no such process
    const release = lockState(file);
    expect(release).to.be.a('function');
    expect(fs.readFileSync(`${file}.lock`, 'utf8')).to.equal(String(process.pid));
    (release as () => void)();
    expect(fs.existsSync(`${file}.lock`)).to.equal(false);
  });

  it('private like the rest of the cache whatever the umask: archive/ is 0700, the state and its lock 0600 (they name the destinations)', () => {
    const old = process.umask(0);
    try {
      const file = stateFileFor(dir, 's3://b/p/x');
      const release = lockState(file);
      saveState(file, { label: 's3://b/p/x', uid: 'AA', containerSize: 100, partSize: 10, started: 'now', resume: { parts: {} } });
      expect(fs.statSync(path.dirname(file)).mode & 0o777).to.equal(0o700);
      expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
      expect(fs.statSync(`${file}.lock`).mode & 0o777).to.equal(0o600);
      (release as () => void)();
    } finally {
      process.umask(old);
    }
  });
});

// File names on a crafted medium, through the real TSK: an ext4 name may hold any byte but '/' and NUL, and
// tsk_loaddb keeps them raw. The text report (blkfs files, /files.txt) is read on a terminal: an ESC there would
// drive it (OSC 0 retitles it, OSC 52 writes the clipboard) and a U+202E would make a name read as another one.
import { expect } from 'chai';
import * as fs from 'fs';
import type { FileReportJson } from '../../../src/files/file-report';
import { ext4Image } from '../../helpers/filesystems';
import { truthMapfile } from '../../helpers/truth-mapfile';
import { blkfs, cleanup, tempDir } from '../mount/harness';

describe('blkfs files: hostile file names', function () {
  this.timeout(60_000);
  let dir: string;
  after(() => cleanup(dir));

  it('the text report shows controls and bidi overrides in names as <U+XXXX>; JSON keeps the names exact', async () => {
    dir = tempDir('files-hostile-names');
    const retitle = 'esc\x1b]0;pwned\x07x';
    const spoof = 'invoice\u202Etxt.exe';
    const img = ext4Image(dir, 'hostile', { [retitle]: Buffer.from('a'), [spoof]: Buffer.from('b') }, '2M');
    const map = `${dir}/hostile.map`;
    fs.writeFileSync(map, truthMapfile(fs.statSync(img).size, []));
    const text = await blkfs(['files', img, map]);
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout).to.not.match(/[\x1b\x07\u202e]/);
    expect(text.stdout).to.include('/esc<U+001B>]0;pwned<U+0007>x').and.include('/invoice<U+202E>txt.exe');
    const json = await blkfs(['files', img, map, '--json']);
    const paths = (JSON.parse(json.stdout) as FileReportJson).entries.map((e) => e.path);
    expect(paths).to.include(`/${retitle}`).and.include(`/${spoof}`);
  });
});

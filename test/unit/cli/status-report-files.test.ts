// `blkfs status` shows the file report's counts from /status (damaged first), or that the layout is not read yet.
import { expect } from 'chai';
import { filesLine, formatStatusReport } from '../../../src/cli/status-report';

describe('blkfs status: the file report line', () => {
  it('counts per verdict once the layout is read, otherwise says how to read it', () => {
    expect(filesLine({ layout: 'ready', files: 40, intact: 30, damaged: 3, incomplete: 6, unknown: 1 })).to.equal(
      '3 damaged, 1 unknown, 6 incomplete, 30 intact of 40',
    );
    expect(filesLine({ layout: 'not read' })).to.equal('layout not read (blkfs files MOUNTPOINT reads it)');
    // Asking does not read a failed layout again (only sectors TSK missed being read do): it says why instead.
    expect(filesLine({ layout: 'failed' })).to.equal('layout failed (blkfs files MOUNTPOINT says why)');
    const report = formatStatusReport({ size: 1024, files: { layout: 'ready', files: 2, intact: 1, damaged: 1 } }, undefined, [], { colour: false, columns: 80 });
    expect(report).to.match(/^ *files:? +1 damaged, 0 unknown, 0 incomplete, 1 intact of 2$/m);
  });

  it('says when The Sleuth Kit found no filesystem, instead of counting 0 of 0', () => {
    expect(filesLine({ layout: 'ready', filesystems: 0, files: 0, intact: 0, damaged: 0, incomplete: 0, unknown: 0 })).to.equal(
      'no filesystem The Sleuth Kit can read (blkfs files MOUNTPOINT says why)',
    );
    expect(filesLine({ layout: 'ready', filesystems: 1, files: 0, intact: 0 })).to.equal('0 damaged, 0 unknown, 0 incomplete, 0 intact of 0');
  });
});

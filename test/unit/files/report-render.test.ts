// The report as people read it (text table), on reports too large for one function call's arguments.
import { expect } from 'chai';
import type { EntryReport, FileReportJson } from '../../../src/files/file-report';
import { renderText } from '../../../src/files/report-render';

function reportOf(files: number): FileReportJson {
  const entries: EntryReport[] = Array.from({ length: files }, (_, i) => ({
    fs: 0,
    path: `/d/file${i}.jpg`,
    kind: 'file',
    size: 4096,
    rescued: 4096,
    bad: 0,
    untried: 0,
    verdict: 'intact',
  }));
  const summary = { files, intact: files, damaged: 0, incomplete: 0, unknown: 0, unreadableDirectories: 0, badBytesOutsideFiles: 0 };
  return { filesystems: [{ offset: 0, type: 'ext4', blockSize: 4096, size: 2 ** 40, structureBad: 0, structureUntried: 0, metadataBad: 0, metadataUntried: 0 }], problems: [], summary, entries };
}

describe('files: the text report', () => {
  it('lists a filesystem of 200,000 files, a row each, its columns as wide as their widest cell', () => {
    const lines = renderText(reportOf(200_000), false).split('\n');
    expect(lines[1]).to.equal('VERDICT  SIZE  BAD  UNTRIED  PATH');
    expect(lines[2]).to.equal('intact   4096    0        0  /d/file0.jpg');
    expect(lines[200_001]).to.equal('intact   4096    0        0  /d/file199999.jpg');
    expect(lines[200_002]).to.match(/^200000 files: 200000 intact/);
  });
});

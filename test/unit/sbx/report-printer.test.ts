import { expect } from 'chai';
import { PassThrough } from 'stream';
import { classify } from '../../../src/cli/sbx/common';
import { OperationError } from '../../../src/errors';
import { Printer, ProgressReporter, ReportList, blkarDate, hms, ReportObject, renderBlkarJson, toCamelCase } from '../../../src/cli/sbx/report';

describe('sbx report printer (blkar JSON layout)', () => {
  const labels: [string, string][] = [
    ['File UID', 'fileUID'],
    ['SBX version', 'sbxVersion'],
    ['Number of blocks written (metadata)', 'numberOfBlocksWrittenMetadata'],
    ['Amount of data encoded (bytes)', 'amountOfDataEncodedBytes'],
    ['SBX container data  size', 'sbxContainerDataSize'],
    ['RS data shard count', 'rsDataShardCount'],
    ['Best guess for burst error resistance level', 'bestGuessForBurstErrorResistanceLevel'],
    ['block set end inclusive', 'blockSetEndInclusive'],
  ];
  for (const [label, key] of labels) it(`"${label}" → ${key}`, () => expect(toCamelCase(label)).to.equal(key));

  it('puts commas at line starts, a blank line after repair items, and ends with "error"', () => {
    const doc = new ReportObject()
      .add('ref block info', new ReportObject().add('type', 'metadata').add('ver', 17))
      .add('metadata repairs', new ReportList([]))
      .add('data repairs', new ReportList([new ReportObject().add('success', true), new ReportObject().add('success', false)], true));
    expect(renderBlkarJson(doc, null)).to.equal(
      '{\n"refBlockInfo": {\n"type": "metadata"\n,"ver": 17\n}\n,"metadataRepairs": [\n]\n,"dataRepairs": [\n{\n"success": true\n}\n\n,{\n"success": false\n}\n\n]\n,"error": null\n}\n',
    );
  });

  it('always emits valid JSON, even for names with quotes, backslashes and digit-only strings', () => {
    const text = renderBlkarJson(new ReportObject().add('File name', 'a"b\\c\n').add('File UID', '000000000001'), 'bad "thing"');
    expect(JSON.parse(text)).to.deep.equal({ fileName: 'a"b\\c\n', fileUID: '000000000001', error: 'bad "thing"' });
  });

  it('an I/O error of the system (EIO from a failing medium) reads "Error : <message>", exit 2, as blkar\'s own errors', () => {
    const out = new PassThrough();
    const eio = Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', errno: -5, syscall: 'read' });
    expect(new Printer({ json: false, stdout: out, stderr: out }).error(eio)).to.equal(2);
    expect(String(out.read())).to.equal('Error : EIO: i/o error, read\n');
  });

  it("Node's own ERR_* errors are no I/O errors: classify leaves them as they are (bugs), system errors become I/O failures", () => {
    const range = Object.assign(new RangeError('The value of "value" is out of range.'), { code: 'ERR_OUT_OF_RANGE' });
    expect(classify(range)).to.equal(range);
    const eio = Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', errno: -5, syscall: 'read' });
    expect(classify(eio)).to.be.instanceOf(OperationError);
  });

  it('formats times like blkar', () => {
    expect(hms(3725.9)).to.equal('01:02:05');
    expect(blkarDate(1600000100)).to.match(/^2020-09-13 12:28:20 \(UTC\)  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(Local\)$/);
  });

  it("a recorded time outside chrono's NaiveDateTime (years -262144 to 262143) is blkar's \"Invalid recorded date time\", though JavaScript's Date still has it", () => {
    const last = Date.UTC(262144, 0, 1) / 1000 - 1; // 262143-12-31 23:59:59
    const first = Date.UTC(-262144, 0, 1) / 1000; // -262144-01-01 00:00:00
    expect(blkarDate(last)).to.match(/^262143-12-31 23:59:59 \(UTC\)/);
    expect(blkarDate(first)).to.match(/^-262144-01-01 00:00:00 \(UTC\)/);
    expect(blkarDate(last + 1)).to.equal('Invalid recorded date time');
    expect(blkarDate(first - 1)).to.equal('Invalid recorded date time');
    expect(blkarDate(8.64e12)).to.equal('Invalid recorded date time'); // JavaScript's last day (year 275760)
  });

  it('a line written while the progress bar is drawn (blkfs acquire\'s notes) gets a line of its own, the bar goes on below', () => {
    let out = '';
    const err = new PassThrough();
    err.on('data', (c: Buffer) => (out += c.toString()));
    const bar = new ProgressReporter('Acquiring the medium', 'bytes', 2, false, err);
    bar.interject('blkfs: before the bar\n');
    bar.update(10, 10);
    bar.interject('blkfs: a note\n');
    bar.update(10, 10);
    const lines = out.split('\n');
    expect(lines[0]).to.equal('blkfs: before the bar');
    expect(lines[1]).to.equal('Acquiring the medium');
    expect(lines[2]).to.match(/^\r\[#+\] 100%/);
    expect(lines[3]).to.equal('blkfs: a note');
    expect(lines[4]).to.match(/^\r\[#+\] 100%/);
  });
});

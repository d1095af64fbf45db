import { expect } from 'chai';
import { Arr, blkarDate, hms, Obj, renderBlkarJson, toCamelCase } from '../../../src/cli/sbx/report';

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
    const doc = new Obj()
      .add('ref block info', new Obj().add('type', 'metadata').add('ver', 17))
      .add('metadata repairs', new Arr([]))
      .add('data repairs', new Arr([new Obj().add('success', true), new Obj().add('success', false)], true));
    expect(renderBlkarJson(doc, null)).to.equal(
      '{\n"refBlockInfo": {\n"type": "metadata"\n,"ver": 17\n}\n,"metadataRepairs": [\n]\n,"dataRepairs": [\n{\n"success": true\n}\n\n,{\n"success": false\n}\n\n]\n,"error": null\n}\n',
    );
  });

  it('always emits valid JSON, even for names with quotes, backslashes and digit-only strings', () => {
    const text = renderBlkarJson(new Obj().add('File name', 'a"b\\c\n').add('File UID', '000000000001'), 'bad "thing"');
    expect(JSON.parse(text)).to.deep.equal({ fileName: 'a"b\\c\n', fileUID: '000000000001', error: 'bad "thing"' });
  });

  it('formats times like blkar', () => {
    expect(hms(3725.9)).to.equal('01:02:05');
    expect(blkarDate(1600000100)).to.match(/^2020-09-13 12:28:20 \(UTC\)  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(Local\)$/);
  });
});

import { expect } from 'chai';
import { InvalidArgumentError } from 'commander';
import { collectNbdkitFilterArg } from '../../../src/cli/nbdkit-filter-option';

describe('mount --nbdkit-filter', () => {
  it('collects filter names and key=value parameters in order', () => {
    expect(collectNbdkitFilterArg('delay-read=1s', collectNbdkitFilterArg('delay', []))).to.deep.equal(['delay', 'delay-read=1s']);
  });

  it('refuses what nbdkit would take as its own option (--run=CMD ran a command), or as the source (file=, dir=)', () => {
    for (const arg of ['--run=touch /tmp/x', '-w', '', '=x', 'file=/etc/passwd', 'dir=/etc']) {
      expect(() => collectNbdkitFilterArg(arg, []), arg).to.throw(InvalidArgumentError);
    }
    expect(() => collectNbdkitFilterArg('file=/etc/passwd', [])).to.throw(/file= would replace the source given as SOURCE/);
  });

  it('refuses filters that keep the medium\'s bytes between reads (cache, cow): after a disc change they answer the old disc', () => {
    for (const name of ['cache', 'cow']) expect(() => collectNbdkitFilterArg(name, []), name).to.throw(InvalidArgumentError, /after a disc change/);
    expect(collectNbdkitFilterArg('cache-max-size=1G', [])).to.deep.equal(['cache-max-size=1G']); // a parameter alone starts no filter
  });
});

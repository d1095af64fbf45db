import { expect } from 'chai';
import { ddrescueOperands } from '../../../src/views/ddrescue-outfile';

describe("ddrescue's operands from its command line (ddrescueOperands)", () => {
  it('finds infile, outfile and mapfile with options anywhere, attached or separate arguments', () => {
    expect(ddrescueOperands(['-d', '-b512', '/mnt/raw', 'disk.img', '/mnt/mapfile'])).to.deep.equal(['/mnt/raw', 'disk.img', '/mnt/mapfile']);
    expect(ddrescueOperands(['-b', '2048', '/mnt/raw', '-r', '3', 'disk.img', '-dn', '/mnt/mapfile'])).to.deep.equal(['/mnt/raw', 'disk.img', '/mnt/mapfile']);
    expect(ddrescueOperands(['--sector-size', '512', '--size=1M', '-dvs', '4096', 'r', 'o', 'm'])).to.deep.equal(['r', 'o', 'm']);
    expect(ddrescueOperands(['--sect', '512', '-m', 'dom.map', 'r', 'o', '--', '-m'])).to.deep.equal(['r', 'o', '-m']);
  });
});

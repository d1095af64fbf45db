// How The Sleuth Kit's processes are run: batch work, below the copying pass and the readers in CPU priority.
import { expect } from 'chai';
import { runTskTool } from '../../../src/files/tsk-loaddb';

describe('files/TSK runs', () => {
  it('a TSK tool runs at nice 10, so a busy copying pass keeps its cores', async () => {
    // The pause lets the priority be set before the tool reads it (it is set just after the spawn).
    const run = await runTskTool('sh', ['-c', 'sleep 0.2; nice >&2']);
    expect(run.exitCode).to.equal(0);
    expect(run.stderr.trim()).to.equal('10');
  });
});

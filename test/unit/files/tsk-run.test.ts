// How The Sleuth Kit's processes are run: a mount's are batch work, below the copying pass and the readers in CPU
// priority; `blkfs files IMAGE`'s, all the user waits for, at the user's own.
import { expect } from 'chai';
import * as os from 'os';
import { OperationError } from '../../../src/errors';
import { isNtfsSystemFile, runTskTool } from '../../../src/files/tsk-loaddb';

describe('files/TSK runs', () => {
  it("a mount's TSK (batch) runs at nice 10, so a busy copying pass keeps its cores; `blkfs files IMAGE`'s at the user's", async () => {
    // The pause lets the priority be set before the tool reads it (it is set just after the spawn).
    const batch = await runTskTool('sh', ['-c', 'sleep 0.2; nice >&2'], undefined, true);
    expect(batch.exitCode).to.equal(0);
    expect(batch.stderr.trim()).to.equal('10');
    const own = await runTskTool('sh', ['-c', 'nice >&2']);
    expect(Number(own.stderr.trim())).to.equal(os.getPriority());
  });

  it('a TSK killed before it finished (Ctrl-C reaches it too, the OOM killer, a crash) is a failure, not a layout', async () => {
    let err: unknown;
    await runTskTool('sh', ['-c', 'kill -INT $$; sleep 5']).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(OperationError);
    expect((err as Error).message).to.equal('sh was killed by SIGINT before it finished');
  });

  it("NTFS's own files are its first MFT entries and $Extend; a user's root file or folder named $Something is a file (review)", () => {
    for (const [p, addr] of [['/$MFT', 0], ['/$Secure:$SDS', 9], ['/$Extend', 11], ['/$Extend/$UsnJrnl:$J', 38]] as const) {
      expect(isNtfsSystemFile(p, addr), p).to.equal(true);
    }
    for (const [p, addr] of [['/$Notes', 64], ['/$WinREAgent', 70], ['/dir/$MFT', 3], ['/notes', 5]] as const) {
      expect(isNtfsSystemFile(p, addr), p).to.equal(false);
    }
  });
});

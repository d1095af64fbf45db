// decode and sort write OUT through writeOutput: a stop signal (Ctrl-C, SIGTERM, SIGHUP) ends the write at once, also
// while it waits on its input, and what was written is kept as after a failure, never left under OUT.blkfs-partial.PID.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeOutput } from '../../../src/sbx/file-io';

/** writeOutput of a writer that writes `text`, then waits 300 ms on its input; SIGTERM (emitted here) comes meanwhile. */
async function stoppedWrite(out: string, text: string): Promise<unknown> {
  const run = writeOutput(out, undefined, 'w', async (handle) => {
    await handle.write(text, 0);
    process.emit('SIGTERM', 'SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
  });
  return run.then(
    () => undefined,
    (err: unknown) => err,
  );
}

describe('sbx/file-io writeOutput stopped by a signal', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-stopped-output-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('ends with exit code 143 for SIGTERM, what was written kept under a new OUT, the signal no longer caught', async () => {
    const out = path.join(dir, 'out.bin');
    const listeners = process.listenerCount('SIGTERM');
    const err = (await stoppedWrite(out, 'decoded so far')) as { exitCode?: number; message?: string } | undefined;
    expect(err?.exitCode).to.equal(143);
    expect(err?.message).to.equal(`Interrupted (SIGTERM); what was written is kept in "${out}"`);
    expect(fs.readdirSync(dir)).to.deep.equal(['out.bin']);
    expect(fs.readFileSync(out, 'utf8')).to.equal('decoded so far');
    expect(process.listenerCount('SIGTERM')).to.equal(listeners);
  });

  it('leaves an existing OUT as it was and keeps the bytes in OUT.incomplete', async () => {
    const out = path.join(dir, 'out.bin');
    fs.writeFileSync(out, 'earlier output');
    const err = (await stoppedWrite(out, 'decoded so far')) as { exitCode?: number; message?: string } | undefined;
    expect(err?.exitCode).to.equal(143);
    expect(fs.readFileSync(out, 'utf8')).to.equal('earlier output');
    expect(fs.readFileSync(`${out}.incomplete`, 'utf8')).to.equal('decoded so far');
    expect(fs.readdirSync(dir).sort()).to.deep.equal(['out.bin', 'out.bin.incomplete']);
  });
});

// `blkfs umount MOUNTPOINT`: asks the server to unmount, flush its state and stop nbdkit, and waits for it
// to exit. A server that is gone (crashed) leaves a dead mount: that one is detached with fusermount.
import { cLocaleEnv } from '../clean-spawn';
import { OperationError, UserError } from '../errors';
import { mountAction } from './mount-action';

const EXIT_WAIT_MS = 120_000;

export const runUmount = mountAction(async (mountpoint: string, opts: { lazy?: boolean }) => {
  const [{ findServer, requireBlkfsMount, waitForExit }, { requireServerNotStopped, ServerNotAnsweringError }] = await Promise.all([
    import('./mount-target'),
    import('./server-answer'),
  ]);
  const abs = requireBlkfsMount(mountpoint);
  // A stopped server holds cache data not yet flushed: it is never killed, and never signalled by us.
  const notLost = `nothing was unmounted or lost: blkfs umount ${abs} again once it runs`;
  let server;
  try {
    server = await findServer(abs);
  } catch (err) {
    if (err instanceof ServerNotAnsweringError) throw new OperationError(`${err.message}; ${notLost}`);
    // ENOTCONN: the server died (nothing left to flush) or its FUSE connection was aborted (it shuts down once detached).
    if ((err as NodeJS.ErrnoException).code !== 'ENOTCONN') throw err;
    await detachDeadMount(abs, opts.lazy === true);
    process.stderr.write(`blkfs: the mount on ${abs} was dead (its server gone, or its FUSE connection aborted); unmounted\n`);
    return;
  }
  const { controlRequest, ControlAccessError, ControlConnectError, ControlNoAnswerError } = await import('../server/control-client');
  const reply = await controlRequest(server.controlSocket, { cmd: 'shutdown', lazy: opts.lazy }).result.catch((err: unknown) => {
    if (err instanceof ControlNoAnswerError) throw new ServerNotAnsweringError(abs, server.pid, err.waitedMs, notLost);
    if (err instanceof ControlAccessError) throw err;
    if (err instanceof ControlConnectError && err.notDelivered) {
      // Its control socket is gone (say, the cache directory was removed under it): the server's signal
      // handler does the same clean shutdown, without the busy check.
      process.stderr.write(`blkfs: ${err.message}; stopping the server (pid ${server.pid}) with SIGTERM\n`);
      process.kill(server.pid, 'SIGTERM');
    }
    return undefined;
  });
  if (reply?.type === 'error' && reply.exitCode === 1) throw new UserError(reply.message);
  const stoppedMeanwhile = () => requireServerNotStopped(abs, server.pid, `it finishes unmounting once continued`);
  if (!(await waitForExit(server.pid, EXIT_WAIT_MS, stoppedMeanwhile))) {
    throw new OperationError(`the blkfs server (pid ${server.pid}) did not exit within ${EXIT_WAIT_MS / 1000} s`);
  }
  // A failed final flush is exit 2 (after the server is gone: the mount is down either way).
  if (reply?.type === 'error') throw new OperationError(`unmounting ${abs}: ${reply.message}`);
});

/**
 * Detaches the kernel mount a dead server left. A program that still holds a file there makes a plain detach
 * fail with EBUSY: that is said as for a live mount (exit 1), and --lazy detaches it all the same.
 */
async function detachDeadMount(mountpoint: string, lazy: boolean): Promise<void> {
  const [{ execFile }, { promisify }] = await Promise.all([import('child_process'), import('util')]);
  const run = promisify(execFile);
  const flag = lazy ? '-uz' : '-u';
  let busy = false;
  for (const [cmd, args] of [
    ['fusermount3', [flag, mountpoint]],
    ['fusermount', [flag, mountpoint]],
    ['umount', lazy ? ['-l', mountpoint] : [mountpoint]],
  ] as const) {
    try {
      await run(cmd, [...args], { env: cLocaleEnv() }); // "busy" is read from its message
      return;
    } catch (err) {
      if (/busy/i.test(String((err as { stderr?: unknown }).stderr ?? ''))) busy = true;
    }
  }
  if (busy) throw new (await import('../fuse/fuse-mount')).MountBusyError(mountpoint);
  throw new OperationError(`could not unmount ${mountpoint}`);
}

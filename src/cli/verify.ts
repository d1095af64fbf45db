// `blkfs verify MOUNTPOINT` / `blkfs verify --cache DIR`: fixity of a cache. Every '+' byte is checked against the
// CRC-32 stored with it; exit 0 when clean, 2 with the damaged ranges listed. --forget-damaged (offline only)
// marks them unread so the next mount reads them from the medium again.
import { EXIT_FAILURE, OperationError, UserError } from '../errors';
import { mountAction } from './mount-action';
import type { VerifyReport } from '../cache/fixity';

interface VerifyOpts {
  cache?: string;
  json?: boolean;
  quiet?: boolean;
  forgetDamaged?: boolean;
}

export const runVerify = mountAction(async (mountpoint: string | undefined, opts: VerifyOpts) => {
  if ((mountpoint === undefined) === (opts.cache === undefined)) throw new UserError('give either MOUNTPOINT or --cache DIR');
  if (opts.forgetDamaged && opts.cache === undefined) throw new UserError('--forget-damaged needs --cache DIR (unmount first)');
  const { ProgressReporter } = await import('./sbx/report');
  const bar = new ProgressReporter('Verifying the cache', 'bytes', opts.quiet || opts.json ? 0 : 2, false, process.stderr);
  let report: VerifyReport & { cacheDir?: string; forgottenBytes?: number };
  if (opts.cache !== undefined) {
    const { verifyCacheDir } = await import('../cache/offline-verify');
    report = await verifyCacheDir(opts.cache, { forgetDamaged: opts.forgetDamaged, onProgress: bar.update });
  } else {
    const [{ findServer }, { requestServer }] = await Promise.all([import('./mount-target'), import('./server-answer')]);
    const server = await findServer(mountpoint as string);
    const session = await requestServer(server, { cmd: 'verify' }, (p) => {
      if (p.type === 'progress') bar.update(p.bytesDone, p.bytesTotal);
    });
    const reply = await session.result;
    if (reply.type === 'error') throw reply.exitCode === 1 ? new UserError(reply.message) : new OperationError(`verify failed: ${reply.message}`);
    report = { ...(reply as { result: VerifyReport }).result, cacheDir: server.cacheDir };
  }
  bar.finish();
  const { describeDamage } = await import('../cache/offline-verify');
  if (opts.json) {
    process.stdout.write(JSON.stringify({ ...report, clean: report.damaged.length === 0 }, null, 2) + '\n');
  } else {
    const out: string[] = [];
    out.push(`blkfs: verified ${report.checkedBytes} bytes in ${report.chunks} checksummed chunks of ${report.cacheDir} in ${report.seconds.toFixed(1)} s`);
    if (report.adoptedBytes > 0) out.push(`blkfs: ${report.adoptedBytes} cached bytes had no checksum (an older cache): checksummed now, as they are`);
    for (const d of report.damaged) out.push(`blkfs: damaged: ${describeDamage(d)}`);
    if (report.damaged.length === 0) out.push('blkfs: clean');
    else if (report.forgottenBytes) out.push(`blkfs: ${report.forgottenBytes} damaged bytes marked unread: the next mount reads them from the medium again`);
    else out.push(`blkfs: ${report.damagedBytes} bytes damaged; they are never served. To read them again from the medium: unmount, then blkfs verify --cache DIR --forget-damaged`);
    process.stderr.write(out.join('\n') + '\n');
  }
  if (report.damaged.length > 0 && !report.forgottenBytes) process.exitCode = EXIT_FAILURE;
});

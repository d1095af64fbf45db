/**
 * `rescue` workflow (blkar rescue_core, sbx-format.md §10.1): scan any file or block device in 128-byte steps
 * and append every valid block's ORIGINAL bytes to OUTDIR/<UID in uppercase hex>, in discovery order. A log
 * file (four `key=value` lines, rewritten about once per second) lets a later run resume where this one
 * stopped. The log never claims more than what has been appended: blocks are written before it.
 * On a failing medium the unreadable places (EIO) are skipped, counted and listed, and scanning goes on; a block
 * that overlaps one is never rescued (skipping-reader.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { uidToHex } from './format/header';
import { RandomReader } from './reader';
import { SCAN_STEP } from './format/specs';
import { scanBlocks } from './format/scan';
import { SkippingReader } from './skipping-reader';
import { Progress } from './block-pass';
import { ByteRange, resolveByteRange } from './byte-range';
import { inputSize, withFileReader } from './file-io';
import { InputError, WorkflowError } from './workflow-errors';

export type PickBlock = 'any' | 'meta' | 'data';

export interface RescueParams {
  input: string;
  outDir: string;
  logFile?: string;
  onlyPickBlock?: PickBlock;
  onlyPickUid?: Buffer;
  range?: ByteRange;
  onProgress?: Progress;
  /** Seconds between log rewrites (blkar: about 1). */
  logIntervalSeconds?: number;
  /** Called with each output file's path before it is first opened. */
  checkOutput?: (outPath: string) => void;
  /** Told about each unreadable unit as it is skipped. */
  onUnreadable?: (start: number, end: number) => void;
}

export interface RescueLog {
  bytesProcessed: number;
  blocksProcessed: number;
  metaBlocksProcessed: number;
  dataBlocksProcessed: number;
}

export interface RescueStats extends RescueLog {
  /** UIDs (hex) written to in this run. */
  uids: string[];
  /** Where scanning started (from + resumed bytes). */
  resumedFrom: number;
  /** Bytes that could not be read (EIO) and were skipped. */
  bytesUnreadable: number;
  /** The unreadable byte ranges [start, end), ascending. */
  unreadableRanges: [number, number][];
  totalSeconds: number;
}

/** The log file's text, exactly blkar's four lines. */
export function renderRescueLog(l: RescueLog): string {
  return (
    `bytes_processed=${l.bytesProcessed}\n` +
    `blocks_processed=${l.blocksProcessed}\n` +
    `meta_blocks_processed=${l.metaBlocksProcessed}\n` +
    `data_blocks_processed=${l.dataBlocksProcessed}\n`
  );
}

/** Parses a rescue log (first 1024 bytes only, as blkar); throws WorkflowError naming the bad line. */
export function parseRescueLog(text: string): RescueLog {
  const keys = ['bytes_processed', 'blocks_processed', 'meta_blocks_processed', 'data_blocks_processed'] as const;
  const lines = text.slice(0, 1024).split(/\r?\n/);
  const values: number[] = [];
  for (let i = 0; i < keys.length; i++) {
    const m = /^([a-z_]+)=([0-9]+)\s*$/.exec(lines[i] ?? '');
    if (!m || m[1] !== keys[i] || !Number.isSafeInteger(Number(m[2]))) {
      throw new WorkflowError(`Failed to parse log file: line ${i + 1} should be "${keys[i]}=<number>"`);
    }
    values.push(Number(m[2]));
  }
  return { bytesProcessed: values[0], blocksProcessed: values[1], metaBlocksProcessed: values[2], dataBlocksProcessed: values[3] };
}

function writeLogDurably(file: string, l: RescueLog): void {
  // Write a sibling then rename, so a crash leaves either the old or the new log, never a torn one.
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, renderRescueLog(l));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

export async function rescueBlocks(params: RescueParams): Promise<RescueStats> {
  const t0 = Date.now();
  let outDirOk = false;
  try {
    outDirOk = fs.statSync(params.outDir).isDirectory();
  } catch {
    outDirOk = false;
  }
  if (!outDirOk) throw new InputError(`Directory "${params.outDir}" does not exist`);
  if (params.logFile !== undefined) checkLogPath(params.logFile);
  const size = await inputSize(params.input);
  return withFileReader(params.input, (reader) => rescueFrom(reader, params, t0), size);
}

/** A log that cannot be written would otherwise fail only at its first write, after blocks were appended. */
function checkLogPath(logFile: string): void {
  const dir = path.dirname(logFile);
  let dirStat: fs.Stats | undefined;
  try {
    dirStat = fs.statSync(dir);
  } catch {
    dirStat = undefined;
  }
  if (!dirStat?.isDirectory()) throw new InputError(`Directory "${dir}" of the log file does not exist`);
  let logStat: fs.Stats | undefined;
  try {
    logStat = fs.statSync(logFile);
  } catch {
    logStat = undefined;
  }
  if (logStat?.isDirectory()) throw new InputError(`Log file "${logFile}" is a directory`);
  try {
    // The log is replaced through a sibling file (writeLogDurably): the directory must take new files.
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    throw new InputError(`Directory "${dir}" of the log file is not writable`);
  }
}

async function rescueFrom(medium: RandomReader, params: RescueParams, t0: number): Promise<RescueStats> {
  const size = medium.size;
  const reader = new SkippingReader(medium, params.onUnreadable);
  const outputs = new Map<string, number>();
  try {
    const { start, end } = resolveByteRange(params.range, size, SCAN_STEP);
    const log: RescueLog = { bytesProcessed: 0, blocksProcessed: 0, metaBlocksProcessed: 0, dataBlocksProcessed: 0 };
    if (params.logFile && fs.existsSync(params.logFile)) {
      const fd = fs.openSync(params.logFile, 'r');
      const buf = Buffer.alloc(1024);
      const n = fs.readSync(fd, buf, 0, 1024, 0);
      fs.closeSync(fd);
      Object.assign(log, parseRescueLog(buf.subarray(0, n).toString('latin1')));
      const clamped = Math.min(log.bytesProcessed, end - start);
      log.bytesProcessed = clamped - (clamped % SCAN_STEP);
    }
    const scanFrom = start + log.bytesProcessed;
    const pick = params.onlyPickBlock ?? 'any';
    const interval = (params.logIntervalSeconds ?? 1) * 1000;
    let lastLog = Date.now();
    let scannedTo = scanFrom;
    const uids = new Set<string>();
    const saveLog = () => {
      for (const f of outputs.values()) fs.fsyncSync(f);
      if (params.logFile) writeLogDurably(params.logFile, log);
      lastLog = Date.now();
    };
    // Called by the scanner once everything before `pos` has been handled (yielded blocks are appended
    // synchronously), so the log may safely claim those bytes.
    const onPosition = (pos: number) => {
      scannedTo = pos;
      log.bytesProcessed = Math.min(pos, end) - start;
      if (Date.now() - lastLog >= interval) {
        saveLog();
        params.onProgress?.(log.bytesProcessed, end - start);
      }
    };
    for await (const b of scanBlocks(reader, scanFrom, end, onPosition)) {
      const isMeta = b.header.seq === 0;
      if (reader.overlapsUnreadable(b.pos, b.pos + b.bytes.length)) continue;
      // blkar counts every valid block it scans; the filters only decide what is appended (rescue_core.rs).
      log.blocksProcessed++;
      if (isMeta) log.metaBlocksProcessed++;
      else log.dataBlocksProcessed++;
      if ((pick === 'meta' && !isMeta) || (pick === 'data' && isMeta)) continue;
      if (params.onlyPickUid && !params.onlyPickUid.equals(b.header.uid)) continue;
      const uid = uidToHex(b.header.uid);
      let fd = outputs.get(uid);
      if (fd === undefined) {
        params.checkOutput?.(path.join(params.outDir, uid));
        fd = fs.openSync(path.join(params.outDir, uid), 'a');
        outputs.set(uid, fd);
      }
      fs.writeSync(fd, b.bytes);
      uids.add(uid);
    }
    // blkar counts every byte it read: whole 128-byte steps and whole blocks, even past the range end.
    log.bytesProcessed = Math.min(Math.max(scannedTo, end), size) - start;
    saveLog();
    params.onProgress?.(log.bytesProcessed, end - start);
    return {
      ...log,
      uids: [...uids].sort(),
      resumedFrom: scanFrom,
      bytesUnreadable: reader.bytesUnreadable,
      unreadableRanges: reader.unreadable.map(([a, b]) => [a, b]),
      totalSeconds: (Date.now() - t0) / 1000,
    };
  } finally {
    for (const f of outputs.values()) fs.closeSync(f);
  }
}

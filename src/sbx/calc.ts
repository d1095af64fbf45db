/**
 * `calc` workflow (sbx-format.md §10.3): pure arithmetic on (size, version, D, P, B, metadata flag).
 * No I/O; the CLI prints the figures with blkar's labels.
 */
import { CalcResult, Layout } from './format/layout';
import { SbxVersion } from './format/specs';

export interface CalcParams {
  fileSize: number;
  version: SbxVersion;
  /** D, P, B: used for versions 17–19 only. */
  dataShards: number;
  parityShards: number;
  burst: number;
  /** Versions 1–3 only (17–19 always carry metadata). */
  metaEnabled: boolean;
}

export interface CalcStats extends CalcResult {
  /** True when the size exceeds what the version can hold (seq numbers are u32). */
  exceedsMaximum: boolean;
  maxFileSize: number;
}

export function calcContainer(p: CalcParams): CalcStats {
  const layout = new Layout({
    version: p.version,
    d: p.dataShards,
    p: p.parityShards,
    burst: p.burst,
    metaEnabled: p.metaEnabled,
  });
  const r = layout.calc(p.fileSize);
  const maxFileSize = layout.maxFileSize();
  return { ...r, maxFileSize, exceedsMaximum: p.fileSize > maxFileSize };
}

// The files of a mount, listed once: each entry is a path in the mount and the view (or directory) that serves it.
// A new view is one file in src/views/ plus one line here, e.g.
//   ['map.png', (m) => new MapPictureView(m.cache)],
// A path with a '/' adds to a directory listed before it (e.g. 'sbx/checksums' into the archive views' /sbx/).
import * as path from 'path';
import type { SectorCache } from '../cache/sector-cache';
import { ChecksumsSource, ChecksumsView } from '../views/checksums-view';
import { liveFileReportFor } from '../files/live-report';
import { fileReportView } from '../views/files-views';
import { WritableMapfileView } from '../views/writable-mapfile-view';
import { MapPictureView } from '../views/map-picture-view';
import { RawView } from '../views/raw-view';
import type { ArchiveViews } from '../views/sbx/archive-views';
import { ServerInfo, StatusView } from '../views/status-view';
import { Node, StaticDirectory } from '../views/view';
import type { AcquisitionRunner } from './acquisition-runner';

/** What a view may be built from. */
export interface MountContext {
  cache: SectorCache;
  /** The mount's identity and activity, as /status shows them. */
  server: ServerInfo;
  /** /sbx/ and /rescued/ (and their block scanner, sealer and tables). */
  archive: ArchiveViews;
  /** The server's one acquisition at a time (join() to run or share it). */
  acquisitions: AcquisitionRunner;
  /** The image checksums that follow the cache, and the DAT verdict (src/server/archive-sessions.ts). */
  checksums: ChecksumsSource;
  log: (message: string) => void;
  /** The mount log with its levels (for views whose messages are warnings or errors). */
  logger: { info(message: string): void; warn(message: string): void; error(message: string): void };
}

export const ROOT_VIEWS: ReadonlyArray<readonly [string, (m: MountContext) => Node]> = [
  ['raw', (m) => new RawView(m.cache)],
  ['mapfile', (m) => new WritableMapfileView(m.cache, m.logger, path.join(m.server.mountpoint, 'mapfile'))],
  ['map.png', (m) => new MapPictureView(m.cache, 'png')],
  ['map.svg', (m) => new MapPictureView(m.cache, 'svg')],
  ['sbx', (m) => m.archive.sbx],
  ['rescued', (m) => m.archive.rescued],
  ['checksums', (m) => new ChecksumsView(m.checksums)],
  ['status', (m) => new StatusView(m.cache, m.server)],
  ['files.json', (m) => fileReportView('json', liveFileReportFor(m.cache, m.server.mountpoint, m.log))],
  ['files.csv', (m) => fileReportView('csv', liveFileReportFor(m.cache, m.server.mountpoint, m.log))],
  ['files.txt', (m) => fileReportView('txt', liveFileReportFor(m.cache, m.server.mountpoint, m.log))],
];

/** The mount root built from `views` (ROOT_VIEWS unless a test gives others). */
export function buildRoot(m: MountContext, views: ReadonlyArray<readonly [string, (m: MountContext) => Node]> = ROOT_VIEWS): StaticDirectory {
  const root = new StaticDirectory();
  for (const [at, make] of views) {
    const names = at.split('/');
    let dir: Node = root;
    for (const name of names.slice(0, -1)) {
      const next: Node | undefined = dir instanceof StaticDirectory ? dir.entries().get(name) : undefined;
      if (!(next instanceof StaticDirectory)) throw new Error(`root views: ${at}: ${name} is not a directory listed before it`);
      dir = next;
    }
    (dir as StaticDirectory).add(names[names.length - 1], make(m));
  }
  return root;
}

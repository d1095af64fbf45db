// The cache's state as its SectorStore holds it (the map, retry counts, settings, the status line): the accessors
// CachedDevice (cached-device.ts) passes straight through, kept apart so that file holds the reading and its lifecycle.
import type Database from 'better-sqlite3';
import type { Extent, SectorStatus } from './extent-map';
import type { MapfilePhase } from './mapfile';
import type { Progress, SectorStore } from './sector-store';

export abstract class StoredState {
  protected constructor(protected readonly store: SectorStore) {}

  /** Immutable snapshot of the sector state. */
  extents(): readonly Extent[] {
    return this.store.map.extents();
  }

  /** Status of one sector (for tools that walk the map). */
  statusAt(sector: number): SectorStatus {
    return this.store.map.statusAt(sector);
  }

  /** The maximal run of equal status containing `sector`. */
  runAt(sector: number): Extent {
    return this.store.map.runAt(sector);
  }

  /** First sector >= from in `status`, or undefined. */
  nextWithStatus(from: number, status: SectorStatus): number | undefined {
    return this.store.map.findNext(from, (s) => s === status);
  }

  /** Retry count of a sector. */
  triesAt(sector: number): number {
    return this.store.tries.valueAt(sector);
  }

  /** Sectors compared with the medium to identify it again (the first 64 KiB's probes and the spread samples). */
  identitySamples(): number[] {
    return this.store.identitySamples();
  }

  /** Called after sectors became durably '+', with their byte range. Returns an unsubscribe function. */
  onSectorsCached(listener: (offset: number, length: number) => void): () => void {
    return this.store.onSectorsCached(listener);
  }

  /** Key/value settings kept with the cache. */
  getSetting(key: string): string | undefined {
    return this.store.getSetting(key);
  }

  setSetting(key: string, value: string): void {
    this.store.setSetting(key, value);
  }

  database(): Database.Database {
    return this.store.database();
  }

  /** Sets the status-line fields (the rescue passes); persisted with the next commit. */
  setProgress(phase: MapfilePhase, pass: number, currentPos: number): void {
    this.store.setProgress({ phase, pass, currentPos });
  }

  /** Saved status-line fields of an interrupted acquisition, if any. */
  savedProgress(): Progress | undefined {
    return this.store.savedProgress();
  }
}

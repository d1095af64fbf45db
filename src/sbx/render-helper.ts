/**
 * A second thread that renders container blocks (render-worker.ts): the encoder gives it part of each batch
 * while it hashes and renders the rest; a view can keep a few of them to render ahead of a reader. Source
 * and output live in SharedArrayBuffers, so a job is a few numbers. Each job reports its render time, for
 * callers that balance their split with it.
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import { ContainerSpec } from './format/container-spec';
import type { RenderDone, RenderInit, RenderJob } from './render-worker';

/** What the worker needs to render one container: make it once per container and reuse it. */
export type RenderSpec = Omit<RenderInit, 'kind'>;

/** `metadataBlock` is written at the metadata indices (default: the spec's own metadata block). */
export function renderSpecOf(spec: ContainerSpec, metadataBlock: Uint8Array | null = spec.metadataBlock): RenderSpec {
  const l = spec.layout;
  return {
    layout: { version: l.version, d: l.d, p: l.p, burst: l.burst, metaEnabled: l.metaEnabled },
    uid: spec.uid,
    metadataBlock,
  };
}

export type RenderPart = Omit<RenderJob, 'kind' | 'id'> & { spec: RenderSpec };

export class RenderHelper {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (ms: number) => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;
  /** The container the worker holds a renderer for (it keeps one). */
  private current: RenderSpec | null = null;

  private constructor(private readonly worker: Worker) {
    worker.unref(); // an idle helper never keeps the process alive
    worker.on('message', (m: RenderDone) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      if (m.error) p.reject(new Error(`render worker: ${m.error}`));
      else p.resolve(m.ms);
    });
    const fail = (e: Error) => {
      this.failure = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`render worker exited (code ${code})`)));
  }

  /** A helper, or null when no worker thread can be had (the caller renders alone). */
  static start(): RenderHelper | null {
    try {
      return new RenderHelper(new Worker(path.join(__dirname, 'render-worker.js')));
    } catch {
      return null;
    }
  }

  /** True until the worker has failed; then the caller renders everything itself. */
  get usable(): boolean {
    return this.failure === null;
  }

  /** Parts posted and not yet done. */
  get busy(): number {
    return this.pending.size;
  }

  /** Renders a part on the worker; resolves with the worker's render time in ms. */
  render(part: RenderPart): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    const { spec, ...job } = part;
    if (spec !== this.current) {
      this.worker.postMessage({ kind: 'init', ...spec } satisfies RenderInit);
      this.current = spec;
    }
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref(); // alive while work is pending
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ kind: 'render', id, ...job } satisfies RenderJob);
    });
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

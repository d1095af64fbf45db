/**
 * A second thread for the encoder: a worker (render-worker.ts) that renders part of each batch of container
 * blocks while this thread hashes and renders the rest. Source and output live in SharedArrayBuffers, so a
 * job is a few numbers. The caller balances the split with the reported render times.
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import { ContainerSpec } from './container-spec';
import type { RenderDone, RenderInit, RenderJob } from './render-worker';

export type RenderPart = Omit<RenderJob, 'kind' | 'id'>;

export class RenderHelper {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (ms: number) => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: RenderDone) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
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

  /** A helper for `spec`'s container, or null when no worker thread can be had (the caller renders alone). */
  static start(spec: ContainerSpec): RenderHelper | null {
    let worker: Worker;
    try {
      worker = new Worker(path.join(__dirname, 'render-worker.js'));
    } catch {
      return null;
    }
    const l = spec.layout;
    const init: RenderInit = {
      kind: 'init',
      layout: { version: l.version, d: l.d, p: l.p, burst: l.burst, metaEnabled: l.metaEnabled },
      uid: spec.uid,
      metadataBlock: spec.metadataBlock,
    };
    worker.postMessage(init);
    return new RenderHelper(worker);
  }

  /** True until the worker has failed; then the caller renders everything itself. */
  get usable(): boolean {
    return this.failure === null;
  }

  /** Renders a part on the worker; resolves with the worker's render time in ms. */
  render(part: RenderPart): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ kind: 'render', id, ...part } satisfies RenderJob);
    });
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

// Renders units of a container on a worker thread (unit-render-worker.ts); falls back to this thread when a
// worker cannot be had. Buffers travel as transferred ArrayBuffers (no copies).
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { ContainerSpecParams } from '../../sbx/container-spec';
import { ContainerRenderer, contiguousPlan } from '../../sbx/random-access';

export interface RenderRequest {
  id: number;
  specKey: string;
  spec: ContainerSpecParams;
  first: number;
  count: number;
  firstSet: number;
  endSet: number;
  source: ArrayBuffer;
  sourceLength: number;
  out: ArrayBuffer;
}

export interface RenderReply {
  id: number;
  out: ArrayBuffer;
  source: ArrayBuffer;
  error?: string;
}

export interface UnitJob {
  renderer: ContainerRenderer;
  specParams: ContainerSpecParams;
  first: number;
  count: number;
  firstSet: number;
  endSet: number;
  source: Buffer;
}

/** A Buffer that owns its whole ArrayBuffer (safe to transfer). */
function owned(b: Buffer): Buffer {
  if (b.byteOffset === 0 && b.buffer.byteLength === b.length) return b;
  const c = Buffer.allocUnsafeSlow(b.length);
  b.copy(c);
  return c;
}

function specKeyOf(p: ContainerSpecParams): string {
  return [p.version, p.d, p.p, p.burst, p.metaEnabled, Buffer.from(p.uid).toString('hex'), p.fileSize].join('/');
}

interface PoolWorker {
  worker: Worker;
  busy: number;
}

class UnitRenderPool {
  private workers: PoolWorker[] = [];
  private broken = false;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void; length: number; at: PoolWorker }>();

  /** Workers: as many as cores, at most 2 (a copy then uses both cores of a small machine; FUSE needs little). */
  constructor(private readonly size = Math.max(1, Math.min(2, os.cpus().length))) {}

  async render(job: UnitJob): Promise<Buffer> {
    const bs = job.renderer.spec.layout.blockSize;
    const at = this.pick();
    if (!at) return this.renderHere(job);
    const source = owned(job.source);
    const out = Buffer.allocUnsafeSlow(job.count * bs);
    const id = this.nextId++;
    const req: RenderRequest = {
      id,
      specKey: specKeyOf(job.specParams),
      spec: job.specParams,
      first: job.first,
      count: job.count,
      firstSet: job.firstSet,
      endSet: job.endSet,
      source: source.buffer as ArrayBuffer,
      sourceLength: source.length,
      out: out.buffer as ArrayBuffer,
    };
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, length: job.count * bs, at });
      if (at.busy++ === 0) at.worker.ref(); // keep the process alive only while work is pending
      at.worker.postMessage(req, [req.source, req.out]);
    });
  }

  private renderHere(job: UnitJob): Buffer {
    const bs = job.renderer.spec.layout.blockSize;
    const out = Buffer.allocUnsafe(job.count * bs);
    const r = job.renderer;
    r.render(job.first, job.count, contiguousPlan(job.firstSet, job.endSet), job.source, out, 0, r.spec.fileSize, Buffer.alloc(bs));
    return out;
  }

  /** The least busy worker, starting workers up to the pool size; undefined when workers cannot run. */
  private pick(): PoolWorker | undefined {
    if (this.broken) return undefined;
    const idle = this.workers.find((w) => w.busy === 0);
    if (idle) return idle;
    if (this.workers.length < this.size) {
      const w = this.start();
      if (w) return w;
    }
    return this.workers.reduce<PoolWorker | undefined>((a, b) => (a && a.busy <= b.busy ? a : b), undefined);
  }

  private start(): PoolWorker | undefined {
    let at: PoolWorker;
    try {
      at = { worker: new Worker(path.join(__dirname, 'unit-render-worker.js')), busy: 0 };
    } catch {
      this.broken = this.workers.length === 0;
      return undefined;
    }
    const w = at.worker;
    w.unref();
    w.on('message', (m: RenderReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (--at.busy === 0) w.unref();
      if (m.error) p.reject(new Error(`rendering a container unit failed: ${m.error}`));
      else p.resolve(Buffer.from(m.out, 0, p.length));
    });
    const fail = (err: Error) => {
      // A dead worker: fail what it held (those readers get EIO; a retry goes elsewhere) and drop it.
      this.workers = this.workers.filter((x) => x !== at);
      for (const [id, p] of this.pending) {
        if (p.at !== at) continue;
        this.pending.delete(id);
        p.reject(err);
      }
      if (this.workers.length === 0) this.broken = true;
    };
    w.on('error', fail);
    w.on('exit', (code) => code !== 0 && fail(new Error(`render worker exited with code ${code}`)));
    this.workers.push(at);
    return at;
  }
}

/** One pool per process: every open /sbx/image.sbx shares it. */
export const unitRenderPool = new UnitRenderPool();

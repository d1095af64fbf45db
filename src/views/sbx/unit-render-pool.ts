// Renders units of a container on render worker threads (the encoder's RenderHelper), so the FUSE thread keeps
// serving reads while the next unit is computed (Reed-Solomon parity and block CRCs are most of the CPU of a
// copy); falls back to this thread when no worker can be had.
import * as os from 'os';
import { ContainerRenderer, contiguousPlan } from '../../sbx/format/random-access';
import { RenderHelper, RenderSpec, renderSpecOf } from '../../sbx/render-helper';

export interface UnitJob {
  renderer: ContainerRenderer;
  first: number;
  count: number;
  firstSet: number;
  endSet: number;
  /** The sets' source bytes (see ContainerRenderer.load); in shared memory (sharedBuffer) to avoid a copy. */
  source: Buffer;
}

/** A Buffer over a SharedArrayBuffer: what a render worker reads from and writes into. */
export function sharedBuffer(n: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(n));
}

function shared(b: Buffer): Buffer {
  if (b.buffer instanceof SharedArrayBuffer) return b;
  const c = sharedBuffer(b.length);
  b.copy(c);
  return c;
}

class UnitRenderPool {
  private helpers: RenderHelper[] = [];
  private broken = false;
  /** Units render with zeros at the metadata copies: the view puts the real metadata block over them. */
  private readonly specs = new WeakMap<ContainerRenderer, RenderSpec>();

  /** Workers: as many as cores, at most 2 (a copy then uses both cores of a small machine; FUSE needs little). */
  constructor(private readonly size = Math.max(1, Math.min(2, os.cpus().length))) {}

  async render(job: UnitJob): Promise<Buffer> {
    const r = job.renderer;
    const bs = r.spec.layout.blockSize;
    const helper = this.pick();
    if (!helper) return this.renderHere(job);
    let spec = this.specs.get(r);
    if (!spec) this.specs.set(r, (spec = renderSpecOf(r.spec, Buffer.alloc(bs))));
    const source = shared(job.source);
    const out = sharedBuffer(job.count * bs);
    const part = {
      spec,
      source: source.buffer as SharedArrayBuffer,
      sourceOffset: source.byteOffset,
      sourceLength: source.length,
      out: out.buffer as SharedArrayBuffer,
      outOffset: 0,
      firstIndex: job.first,
      count: job.count,
      firstSet: job.firstSet,
      endSet: job.endSet,
      fileSize: r.spec.fileSize,
    };
    // A worker that dies fails what it held (those readers get EIO; a retry goes to another or to this thread).
    await helper.render(part).catch((err: Error) => {
      throw new Error(`rendering a container unit failed: ${err.message}`);
    });
    return out;
  }

  private renderHere(job: UnitJob): Buffer {
    const r = job.renderer;
    const bs = r.spec.layout.blockSize;
    const out = Buffer.allocUnsafe(job.count * bs);
    r.render(job.first, job.count, contiguousPlan(job.firstSet, job.endSet), job.source, out, 0, r.spec.fileSize, Buffer.alloc(bs));
    return out;
  }

  /** The least busy worker, starting workers up to the pool size; undefined when workers cannot run. */
  private pick(): RenderHelper | undefined {
    const alive = this.helpers.filter((h) => h.usable);
    if (alive.length === 0 && this.helpers.length > 0) this.broken = true; // every worker died: stay on this thread
    this.helpers = alive;
    if (this.broken) return undefined;
    const idle = this.helpers.find((h) => h.busy === 0);
    if (idle) return idle;
    if (this.helpers.length < this.size) {
      const h = RenderHelper.start();
      if (h) {
        this.helpers.push(h);
        return h;
      }
      this.broken = this.helpers.length === 0;
    }
    return this.helpers.reduce<RenderHelper | undefined>((a, b) => (a && a.busy <= b.busy ? a : b), undefined);
  }
}

/** One pool per process: every open /sbx/image.sbx shares it. */
export const unitRenderPool = new UnitRenderPool();

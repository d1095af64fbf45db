// Renders units of a container on render worker threads (the encoder's RenderHelper), so the FUSE thread keeps
// serving reads while the next unit is computed (Reed-Solomon parity and block CRCs are most of the CPU of a
// copy); falls back to this thread when no worker can be had.
import { ContainerRenderer, SetPlan } from '../../sbx/format/random-access';
import { RenderHelper, RenderSpec, renderSpecOf } from '../../sbx/render-helper';
import { workerCpus } from '../../thread-cpus';

export interface UnitJob {
  renderer: ContainerRenderer;
  first: number;
  count: number;
  /** The block sets those blocks need (slot i of source holds plan.sets[i]). */
  plan: SetPlan;
  /** The sets' source bytes (see ContainerRenderer.load); in shared memory (sharedBuffer) to avoid a copy. */
  source: Buffer;
}

/** A Buffer over a SharedArrayBuffer: what a render worker reads from and writes into. */
export function sharedBuffer(n: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(n));
}

/**
 * Shared memory used again from job to job, for units' sources and blocks. A SharedArrayBuffer is freed only once
 * both threads that held it have collected garbage, which nothing prompts (its bytes do not count as garbage
 * collector pressure): a fresh buffer per unit let hundreds of MB linger (1.15 GB of server memory for a cold copy
 * of a 1 GiB medium's container at the default parameters).
 */
class SourceArena {
  private readonly free = new Map<number, SharedArrayBuffer[]>();
  /** Guards against a buffer given back twice, which would hand the same memory to two users. */
  private readonly idle = new WeakSet<SharedArrayBuffer>();
  private freeBytes = 0;

  constructor(private readonly maxFreeBytes: number) {}

  /** A shared Buffer of n bytes (contents undefined). */
  take(n: number): Buffer {
    const size = Math.max(64 << 10, 2 ** Math.ceil(Math.log2(Math.max(1, n))));
    const sab = this.free.get(size)?.pop();
    if (sab) {
      this.freeBytes -= size;
      this.idle.delete(sab);
    }
    return Buffer.from(sab ?? new SharedArrayBuffer(size), 0, n);
  }

  /** Gives back a buffer from take() once nothing reads it any more. */
  give(b: Buffer): void {
    const sab = b.buffer;
    if (!(sab instanceof SharedArrayBuffer)) return;
    if (this.idle.has(sab)) throw new Error('shared buffer given back twice');
    if (this.freeBytes + sab.byteLength > this.maxFreeBytes) return;
    this.idle.add(sab);
    let list = this.free.get(sab.byteLength);
    if (!list) this.free.set(sab.byteLength, (list = []));
    list.push(sab);
    this.freeBytes += sab.byteLength;
  }
}

/** Sources of units being rendered, kept for the next ones (at most 32 MiB idle). */
export const sourceArena = new SourceArena(32 << 20);
/** Rendered units, given back when dropped (at most 32 MiB idle). */
export const unitArena = new SourceArena(32 << 20);

function shared(b: Buffer): Buffer {
  if (b.buffer instanceof SharedArrayBuffer) return b;
  const c = sharedBuffer(b.length);
  b.copy(c);
  return c;
}

/** A plan as a worker job's fields: a range of sets when it can be one (the common case), else the lists. */
function planFields(plan: SetPlan): { firstSet: number; endSet: number; sets?: number[]; needsParity?: boolean[] } {
  const firstSet = plan.sets.length > 0 ? plan.sets[0] : 0;
  const endSet = firstSet + plan.sets.length;
  if (plan.contiguous && plan.needsParity.every((x) => x)) return { firstSet, endSet };
  return { firstSet, endSet, sets: [...plan.sets], needsParity: [...plan.needsParity] };
}

class UnitRenderPool {
  private helpers: RenderHelper[] = [];
  private broken = false;
  /** Units render with zeros at the metadata copies: the view puts the real metadata block over them. */
  private readonly specs = new WeakMap<ContainerRenderer, RenderSpec>();

  /** Workers: as many as the CPUs a worker may run on, at most 2 (a copy then uses both cores of a small machine;
   * FUSE needs little). In the mount server that leaves out the event loop's CPU: two workers on the one other CPU
   * of a 2-core machine copied no faster than one and held about 20 MB more. */
  constructor(private readonly size = Math.max(1, Math.min(2, workerCpus()))) {}

  async render(job: UnitJob): Promise<Buffer> {
    const r = job.renderer;
    const bs = r.spec.layout.blockSize;
    const helper = this.pick();
    if (!helper) return this.renderHere(job);
    let spec = this.specs.get(r);
    if (!spec) this.specs.set(r, (spec = renderSpecOf(r.spec, Buffer.alloc(bs))));
    const source = shared(job.source);
    const part = {
      spec,
      source: source.buffer as SharedArrayBuffer,
      sourceOffset: source.byteOffset,
      sourceLength: source.length,
      firstIndex: job.first,
      count: job.count,
      ...planFields(job.plan),
      fileSize: r.spec.fileSize,
    };
    // A worker that dies fails what it held (those readers get EIO; a retry goes to another or to this thread).
    const out = unitArena.take(job.count * bs);
    await helper.render({ ...part, out: out.buffer as SharedArrayBuffer, outOffset: out.byteOffset }).catch((err: Error) => {
      unitArena.give(out);
      throw new Error(`rendering a container unit failed: ${err.message}`);
    });
    return out;
  }

  private renderHere(job: UnitJob): Buffer {
    const r = job.renderer;
    const bs = r.spec.layout.blockSize;
    const out = Buffer.allocUnsafe(job.count * bs);
    r.render(job.first, job.count, job.plan, job.source, out, 0, r.spec.fileSize, Buffer.alloc(bs));
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

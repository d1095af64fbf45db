// Renders container bytes for one open /sbx/image.sbx in "units". Usually a unit is a run of whole super
// block sets (whole block sets without interleaving), so each unit needs one contiguous read of the source and
// one batch of Reed-Solomon work, and a sequential reader (cp) gets each unit rendered once, with the next one
// prepared while the current one is being copied out. A super set over 16 MiB (e.g. v19 200/50/1000: T·B
// blocks = 1 GB) is cut into "slices", runs of blocks rendered from just the block sets they belong to, with
// the slice small enough that those sets' bytes stay within a few MiB. Every unit's memory goes through one
// process-wide budget (render-budget.ts). Metadata copies are rendered as placeholders (zeros) here; the view
// puts the real metadata block (which needs the image hash) over them.
import { ContainerRenderer, contiguousPlan, SetPlan } from '../../sbx/format/random-access';
import { RandomReader } from '../../sbx/reader';
import { RenderBudget, renderBudget } from './render-budget';
import { sourceArena, unitArena, unitRenderPool } from './unit-render-pool';

/** About this many container bytes per unit: big enough to amortise a read and an RS batch. */
const TARGET_UNIT_BYTES = 2 << 20;
/**
 * A super set up to this size is rendered whole (at most one per unit); a bigger one in slices of at most this
 * much memory: their blocks plus the source and parity of the sets they belong to.
 */
export const UNIT_MEMORY = 16 << 20;

/** The bytes of a unit of holes only, shared by all (units are never written to). */
const ZEROS = Buffer.alloc(TARGET_UNIT_BYTES);

export interface UnitGeometry {
  /** Blocks in each unit (unit 0 additionally holds the `lead` blocks in front: see unitStart). */
  unitBlocks: number;
  /** Block sets per unit, when units are whole super sets; 0 when they are slices. */
  setsPerUnit: number;
  /** Blocks unit 0 has in front of unitBlocks: the metadata blocks before the first data block for whole
   *  super sets (1 + P for EC, 1 or 0 for SBX); 0 for slices. */
  lead: number;
  /** Units prepared ahead of a sequential reader. */
  ahead: number;
}

export function unitGeometry(r: ContainerRenderer, unitMemory = UNIT_MEMORY): UnitGeometry {
  const l = r.spec.layout;
  // Sets of one super set (B of them), or one set when there is no interleaving.
  const group = l.ec ? Math.max(1, l.burst) : 1;
  const groupBlocks = l.setSize * group;
  if (groupBlocks * l.blockSize <= unitMemory) {
    const m = Math.max(1, Math.floor(TARGET_UNIT_BYTES / l.blockSize / groupBlocks));
    return { unitBlocks: m * groupBlocks, setsPerUnit: m * group, lead: l.metaCount, ahead: 2 };
  }
  // Worst case: every block of a slice in a set of its own (at most as many as the container has), whose
  // data shards and parity are all needed.
  const setBytes = l.setSize * l.dataSize;
  const sets = l.setCount(r.spec.fileSize);
  const fits = (n: number) => n * l.blockSize + Math.min(n, sets) * setBytes <= unitMemory;
  let unitBlocks = Math.floor(TARGET_UNIT_BYTES / l.blockSize);
  if (!fits(unitBlocks)) unitBlocks = Math.max(1, Math.floor(unitMemory / (l.blockSize + setBytes)));
  return { unitBlocks, setsPerUnit: 0, lead: 0, ahead: Math.min(32, Math.max(2, Math.ceil(TARGET_UNIT_BYTES / (unitBlocks * l.blockSize)))) };
}

/** First block index of unit u (unit 0 starts at 0 and includes the leading metadata blocks). */
export function unitStart(g: UnitGeometry, u: number): number {
  return u === 0 ? 0 : g.lead + u * g.unitBlocks;
}

/** Unit holding block index i. */
export function unitOf(g: UnitGeometry, i: number): number {
  return i < g.lead ? 0 : Math.floor((i - g.lead) / g.unitBlocks);
}

export class ContainerUnits {
  readonly geometry: UnitGeometry;
  private readonly totalBlocks: number;
  private readonly units = new Map<number, Promise<Buffer>>();
  /** Units kept: the one before (reads straddle), the current one and those being prepared. */
  private readonly keep: number;
  /** The open file is closed: nothing more is kept or prepared for it. */
  private closed = false;
  /** The last unit the previous read touched (none yet): units are prepared ahead only for a reader that goes on. */
  private previousLastUnit: number | undefined;

  constructor(
    private readonly renderer: ContainerRenderer,
    private readonly source: RandomReader,
    private readonly budget: RenderBudget = renderBudget,
    unitMemory = UNIT_MEMORY,
  ) {
    this.geometry = unitGeometry(renderer, unitMemory);
    this.keep = this.geometry.ahead + 2;
    const spec = renderer.spec;
    this.totalBlocks = spec.layout.containerBlockCount(spec.fileSize);
  }

  /** Bytes of blocks [first, first + count) of the container (metadata copies as zero placeholders). */
  async blocks(first: number, count: number): Promise<Buffer> {
    const bs = this.renderer.spec.layout.blockSize;
    const out = Buffer.allocUnsafe(count * bs);
    await this.copyTo(first * bs, out, count * bs);
    return out;
  }

  /**
   * Puts container bytes [offset, offset + length) (inside the container; metadata copies as zero placeholders)
   * at the start of `target`. Units never leave this class, only copies of their bytes: their memory is used
   * again once dropped (see drop()).
   */
  async copyTo(offset: number, target: Buffer, length: number): Promise<void> {
    const bs = this.renderer.spec.layout.blockSize;
    const g = this.geometry;
    const end = offset + length;
    const firstUnit = unitOf(g, Math.floor(offset / bs));
    const lastUnit = unitOf(g, Math.ceil(end / bs) - 1);
    for (let u = firstUnit; u <= lastUnit; u++) {
      const unit = await this.unit(u);
      // Copied at once on resuming: nothing else runs between the render settling and this copy.
      const us = unitStart(g, u) * bs;
      const from = Math.max(offset, us);
      const to = Math.min(end, us + unit.length);
      unit.copy(target, from - offset, from - us, to - us);
    }
    // Sequential reading: prepare the next units while this one is copied out. A first read, or one far from the
    // previous one (a file manager's or TSK's one-off look at the header), prepares nothing: each unit is a batch of
    // Reed-Solomon work. Near, not exactly where it ended: one reader's requests may arrive out of order.
    const goesOn = this.previousLastUnit !== undefined && Math.abs(firstUnit - this.previousLastUnit) <= 1;
    this.previousLastUnit = lastUnit;
    for (let next = lastUnit + 1; goesOn && next <= lastUnit + g.ahead && !this.closed; next++) {
      if (unitStart(g, next) < this.totalBlocks) void this.unit(next).catch(() => {});
    }
  }

  private unit(u: number): Promise<Buffer> {
    let p = this.units.get(u);
    if (p) {
      // Keep recently used units last in the map's order.
      this.units.delete(u);
      this.units.set(u, p);
      this.budget.touch(p);
      return p;
    }
    const rendering = this.render(u);
    p = rendering;
    this.units.set(u, p);
    // Once rendered, the unit counts against the process's budget for kept units, which may drop it.
    p.then(
      (b) => this.units.get(u) === rendering && this.budget.keep(rendering, b.length, () => this.units.get(u) === rendering && this.drop(u)),
      // A failed render is not kept: the next read tries again (e.g. after a lost source came back).
      () => this.units.get(u) === rendering && this.units.delete(u),
    );
    while (this.units.size > this.keep) this.drop(this.units.keys().next().value as number);
    if (this.closed) this.drop(u); // a read after close(): rendered for it alone, then given back
    return p;
  }

  /**
   * The open file is closed: its units leave the process's budget and their memory is given back (once rendered).
   * Kept, nobody could read them again, and they would push out the units of files still open.
   */
  close(): void {
    this.closed = true;
    for (const u of [...this.units.keys()]) this.drop(u);
  }

  /**
   * Forgets unit u and gives its memory back for later units, once it is rendered and every read that waited for
   * it has copied from it: those copies run when the render settles, before the next turn of the event loop.
   */
  private drop(u: number): void {
    const p = this.units.get(u);
    if (!p) return;
    this.units.delete(u);
    this.budget.forget(p);
    p.then(
      (b) => setImmediate(() => unitArena.give(b)),
      () => {},
    );
  }

  private async render(u: number): Promise<Buffer> {
    const g = this.geometry;
    const r = this.renderer;
    const l = r.spec.layout;
    const bs = l.blockSize;
    const first = unitStart(g, u);
    const end = Math.min(this.totalBlocks, g.lead + (u + 1) * g.unitBlocks);
    const count = Math.max(0, end - first);
    let plan: SetPlan;
    if (g.setsPerUnit > 0) {
      const firstSet = u * g.setsPerUnit;
      plan = contiguousPlan(firstSet, Math.min(l.setCount(r.spec.fileSize), firstSet + g.setsPerUnit));
    } else {
      plan = r.plan(first, count);
    }
    // Burst holes and metadata placeholders only (most of a sparse super set): zeros, nothing to compute.
    if (plan.sets.length === 0) return count * bs <= ZEROS.length ? ZEROS.subarray(0, count * bs) : Buffer.alloc(count * bs);
    const bytes = count * bs + plan.sets.length * (r.setSourceSize + l.p * l.dataSize);
    return this.budget.rendering(bytes, async () => {
      const source = await r.load(plan, this.source, r.spec.fileSize, (n) => sourceArena.take(n));
      try {
        return await unitRenderPool.render({ renderer: r, first, count, plan, source });
      } finally {
        sourceArena.give(source);
      }
    });
  }
}

// Renders container bytes for one open /sbx/image.sbx in "units": runs of whole super block sets (whole
// block sets without interleaving), so each unit needs one contiguous read of the source and one batch of
// Reed-Solomon work, and a sequential reader (cp) gets each unit rendered once, with the next one prepared
// while the current one is being copied out. Metadata copies are rendered as placeholders here; the view
// puts the real metadata block (which needs the image hash) over them.
import { ContainerRenderer, contiguousPlan } from '../../sbx/format/random-access';
import { RandomReader } from '../../sbx/reader';
import { sharedBuffer, unitRenderPool } from './unit-render-pool';

/** About this many container bytes per unit: big enough to amortise a read and an RS batch. */
const TARGET_UNIT_BYTES = 2 << 20;

export interface UnitGeometry {
  /** Blocks in each unit (unit 0 additionally holds the metadata copies in front: see unitStart). */
  unitBlocks: number;
  /** Block sets per unit. */
  setsPerUnit: number;
  /** Metadata blocks before the first data block (1 + P for EC, 1 or 0 for SBX). */
  lead: number;
}

export function unitGeometry(r: ContainerRenderer): UnitGeometry {
  const l = r.spec.layout;
  // Sets of one super set (B of them), or one set when there is no interleaving.
  const group = l.ec ? Math.max(1, l.burst) : 1;
  const groupBlocks = l.setSize * group;
  const m = Math.max(1, Math.floor(TARGET_UNIT_BYTES / l.blockSize / groupBlocks));
  return { unitBlocks: m * groupBlocks, setsPerUnit: m * group, lead: l.metaCount };
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
  /** Units kept: the one before (reads straddle), the current one and the two being prepared. */
  private static readonly KEEP = 4;
  /** Units prepared ahead of a sequential reader (so the render worker always has the next one to do). */
  private static readonly AHEAD = 2;

  constructor(
    private readonly renderer: ContainerRenderer,
    private readonly source: RandomReader,
  ) {
    this.geometry = unitGeometry(renderer);
    const spec = renderer.spec;
    this.totalBlocks = spec.layout.containerBlockCount(spec.fileSize);
  }

  /** Bytes of blocks [first, first + count) of the container (metadata copies as zero placeholders). */
  async blocks(first: number, count: number): Promise<Buffer> {
    const bs = this.renderer.spec.layout.blockSize;
    const g = this.geometry;
    const firstUnit = unitOf(g, first);
    const lastUnit = unitOf(g, first + count - 1);
    let out: Buffer;
    if (firstUnit === lastUnit) {
      // The common case (a 128 KiB FUSE read inside a 2 MiB unit): a view of the unit, no copy.
      const us = unitStart(g, firstUnit);
      out = (await this.unit(firstUnit)).subarray((first - us) * bs, (first + count - us) * bs);
    } else {
      out = Buffer.allocUnsafe(count * bs);
      for (let u = firstUnit; u <= lastUnit; u++) {
        const unit = await this.unit(u);
        const us = unitStart(g, u);
        const from = Math.max(first, us);
        const to = Math.min(first + count, us + unit.length / bs);
        unit.copy(out, (from - first) * bs, (from - us) * bs, (to - us) * bs);
      }
    }
    // Sequential reading: prepare the next units while this one is copied out.
    for (let next = lastUnit + 1; next <= lastUnit + ContainerUnits.AHEAD; next++) {
      if (unitStart(g, next) < this.totalBlocks) void this.unit(next).catch(() => {});
    }
    return out;
  }

  private unit(u: number): Promise<Buffer> {
    let p = this.units.get(u);
    if (p) {
      // Keep recently used units last in the map's order.
      this.units.delete(u);
      this.units.set(u, p);
      return p;
    }
    p = this.render(u);
    this.units.set(u, p);
    // A failed render is not kept: the next read tries again (e.g. after a lost source came back).
    p.catch(() => this.units.get(u) === p && this.units.delete(u));
    while (this.units.size > ContainerUnits.KEEP) this.units.delete(this.units.keys().next().value as number);
    return p;
  }

  private async render(u: number): Promise<Buffer> {
    const g = this.geometry;
    const r = this.renderer;
    const l = r.spec.layout;
    const first = unitStart(g, u);
    const end = Math.min(this.totalBlocks, g.lead + (u + 1) * g.unitBlocks);
    const count = Math.max(0, end - first);
    const setCount = l.setCount(r.spec.fileSize);
    const firstSet = u * g.setsPerUnit;
    const plan = contiguousPlan(firstSet, Math.min(setCount, firstSet + g.setsPerUnit));
    const source = await r.load(plan, this.source, r.spec.fileSize, sharedBuffer);
    return unitRenderPool.render({
      renderer: r,
      first,
      count,
      firstSet: plan.sets.length > 0 ? plan.sets[0] : firstSet,
      endSet: plan.sets.length > 0 ? plan.sets[plan.sets.length - 1] + 1 : firstSet,
      source,
    });
  }
}

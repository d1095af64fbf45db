/**
 * Worker-thread side of render-helper.ts (the encoder's second thread, the /sbx view's unit rendering): renders a
 * range of container blocks with ContainerRenderer from source bytes in shared memory into shared memory.
 * Nothing is copied.
 */
import { parentPort } from 'worker_threads';
import { Layout, LayoutParams } from './format/layout';
import { ContainerRenderer, contiguousPlan, SetPlan } from './format/random-access';

/** The container the following jobs render (sent again whenever the caller switches containers). */
export interface RenderInit {
  kind: 'init';
  layout: LayoutParams;
  uid: Uint8Array;
  metadataBlock: Uint8Array | null;
}

/**
 * Render blocks [firstIndex, firstIndex + count) of sets [firstSet, endSet) (slot 0 at sourceOffset), all with
 * parity; or, when `sets` is given, of those sets (slot i holds sets[i]) with parity where `needsParity` says.
 */
export interface RenderJob {
  kind: 'render';
  id: number;
  source: SharedArrayBuffer;
  sourceOffset: number;
  sourceLength: number;
  out: SharedArrayBuffer;
  outOffset: number;
  firstIndex: number;
  count: number;
  firstSet: number;
  endSet: number;
  sets?: number[];
  needsParity?: boolean[];
  fileSize: number;
}

export interface RenderDone {
  id: number;
  /** Time spent rendering, for the caller's load balancing. */
  ms: number;
  error?: string;
}

let renderer: ContainerRenderer | null = null;

parentPort?.on('message', (m: RenderInit | RenderJob) => {
  if (m.kind === 'init') {
    const layout = new Layout(m.layout);
    const metadataBlock = m.metadataBlock ? Buffer.from(m.metadataBlock) : null;
    renderer = new ContainerRenderer({ layout, uid: Buffer.from(m.uid), fileSize: 0, metadata: null, metadataBlock });
    return;
  }
  const t0 = performance.now();
  try {
    if (!renderer) throw new Error('render worker used before init');
    const source = new Uint8Array(m.source, m.sourceOffset, m.sourceLength);
    const out = new Uint8Array(m.out);
    const plan: SetPlan = m.sets
      ? { sets: m.sets, needsParity: m.needsParity ?? m.sets.map(() => true), contiguous: m.sets.every((s, i) => s === m.sets![0] + i) }
      : contiguousPlan(m.firstSet, m.endSet);
    renderer.render(m.firstIndex, m.count, plan, source, out, m.outOffset, m.fileSize);
    parentPort?.postMessage({ id: m.id, ms: performance.now() - t0 } satisfies RenderDone);
  } catch (e) {
    parentPort?.postMessage({ id: m.id, ms: performance.now() - t0, error: e instanceof Error ? e.message : String(e) } satisfies RenderDone);
  }
});

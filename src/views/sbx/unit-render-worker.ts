// Worker thread that renders container units for /sbx/image.sbx (Reed-Solomon parity and block CRCs are
// most of the CPU of a copy), so the FUSE thread keeps serving reads while the next unit is computed:
// `blkfs sbx encode` runs on one core, the view uses the second one.
import { parentPort } from 'worker_threads';
import { makeContainerSpec } from '../../sbx/container-spec';
import { ContainerRenderer, contiguousPlan } from '../../sbx/random-access';
import { RenderRequest, RenderReply } from './unit-render-pool';

let current: { key: string; renderer: ContainerRenderer } | undefined;

parentPort?.on('message', (m: RenderRequest) => {
  let reply: RenderReply;
  try {
    if (current?.key !== m.specKey) current = { key: m.specKey, renderer: new ContainerRenderer(makeContainerSpec(m.spec)) };
    const r = current.renderer;
    const source = Buffer.from(m.source, 0, m.sourceLength);
    const out = Buffer.from(m.out, 0, m.count * r.spec.layout.blockSize);
    r.render(m.first, m.count, contiguousPlan(m.firstSet, m.endSet), source, out, 0, r.spec.fileSize, Buffer.alloc(r.spec.layout.blockSize));
    reply = { id: m.id, out: m.out, source: m.source };
  } catch (err) {
    reply = { id: m.id, out: m.out, source: m.source, error: err instanceof Error ? err.message : String(err) };
  }
  parentPort!.postMessage(reply, [reply.out, reply.source]);
});

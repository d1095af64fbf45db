// Part 2 of the crash torture (bench/crash-torture.ts): SIGKILL during `blkfs export` (of the CLI, and of the server
// that writes it), `blkfs import`, `blkfs archive` to a directory (of the CLI, and of the server it reads) and an
// /sbx/image.sbx read. Outputs must never be half-written under their final name; the cache must stay usable.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { alive, blkfs, committedState, finding, killServer, mount, rnd, sleep, start, verifyCache, wrongPlusSectors } from './crash-torture-lib';

export interface OutputsContext {
  uri: string;
  mnt: string;
  cache: string;
  tmp: string;
  medium: Buffer;
  sectors: number;
  /** The server serving mnt now (the cache is complete). */
  pid: number;
  isBad: Uint8Array;
  imagePath: string;
}

const KILLS = Number(process.env.OUTPUT_KILLS ?? 6);

/** Descendants of `pid` (its nbdkit...), from /proc. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    for (const t of fs.readdirSync(`/proc/${p}/task`, { withFileTypes: true })) {
      let kids = '';
      try {
        kids = fs.readFileSync(`/proc/${p}/task/${t.name}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const k of kids.trim().split(/\s+/).filter(Boolean).map(Number)) {
        out.push(k);
        walk(k);
      }
    }
  };
  try {
    walk(pid);
  } catch {
    /* gone */
  }
  return out;
}

/** An image + mapfile pair under final names is whole: every '+' sector of the map holds the medium's bytes. */
function checkExportPair(img: string, map: string, ctx: OutputsContext, label: string): string {
  const hasImg = fs.existsSync(img);
  const hasMap = fs.existsSync(map);
  if (!hasImg && !hasMap) return 'none';
  if (!hasImg) return 'map only';
  const data = fs.readFileSync(img);
  if (data.length !== ctx.medium.length) finding(`${label}: ${img} has ${data.length} bytes, not ${ctx.medium.length}`);
  if (!hasMap) return 'image only'; // its bytes cannot be judged without the map; not wrong, but said
  let plus = 0;
  for (const l of fs.readFileSync(map, 'utf8').split('\n')) {
    const m = /^(0x[0-9A-Fa-f]+)\s+(0x[0-9A-Fa-f]+)\s+\+$/.exec(l.trim());
    if (!m) continue;
    const a = Number(m[1]);
    const b = a + Number(m[2]);
    plus += b - a;
    if (!data.subarray(a, b).equals(ctx.medium.subarray(a, b))) finding(`${label}: ${img} differs from the medium inside '+' ${a}..${b} of ${map}`);
  }
  return `pair (${plus} bytes '+')`;
}

function leftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => /partial|\.tmp$|\.lock$/.test(n));
}

async function exportKills(ctx: OutputsContext): Promise<number> {
  const dir = path.join(ctx.tmp, 'exports');
  fs.mkdirSync(dir);
  const img = path.join(dir, 'e.img');
  const map = path.join(dir, 'e.map');
  const t0 = Date.now();
  const full = await blkfs(['export', ctx.mnt, img, map]).done;
  const took = Date.now() - t0;
  if (full.code !== 0) finding(`export: ${full.stderr}`);
  const seen = new Map<string, number>();
  for (let i = 0; i < KILLS; i++) {
    if (i % 2 === 0) for (const f of [img, map]) fs.rmSync(f, { force: true }); // a first export, or one over an earlier
    const killCli = i % 3 === 2; // else the server, which writes the files
    const job = blkfs(['export', ctx.mnt, img, map]);
    await sleep(rnd(took + 200));
    if (killCli) job.child.kill('SIGKILL');
    else {
      await killServer(ctx.pid, ctx.mnt, ctx.cache);
      ctx.pid = await mount(ctx.uri, ctx.mnt, ctx.cache);
    }
    await job.done;
    if (killCli) await sleep(took + 200); // the server finishes the export it was asked for
    const what = checkExportPair(img, map, ctx, `export kill ${i + 1} (${killCli ? 'CLI' : 'server'})`);
    seen.set(what.replace(/ \(.*/, ''), (seen.get(what.replace(/ \(.*/, '')) ?? 0) + 1);
    for (const f of fs.readdirSync(dir)) if (f.includes('partial')) fs.rmSync(path.join(dir, f));
  }
  console.log(`export: ${KILLS} kills (a full export takes ${took} ms); outputs found under their final names: ${[...seen].map(([k, v]) => `${k} ×${v}`).join(', ')}`);
  // The offline export, killed, leaves the cache usable.
  await killServer(ctx.pid, ctx.mnt, ctx.cache);
  for (let i = 0; i < 3; i++) {
    fs.rmSync(img, { force: true });
    fs.rmSync(map, { force: true });
    const job = blkfs(['export', '--cache', ctx.cache, img, map]);
    await sleep(rnd(took + 400));
    job.child.kill('SIGKILL');
    await job.done;
    checkExportPair(img, map, ctx, `export --cache kill ${i + 1}`);
  }
  const again = await blkfs(['export', '--cache', ctx.cache, img, map]).done;
  if (again.code !== 0) finding(`export --cache after kills: ${again.stderr}`);
  checkExportPair(img, map, ctx, 'export --cache after kills');
  ctx.pid = await mount(ctx.uri, ctx.mnt, ctx.cache);
  return KILLS + 3;
}

async function importKills(ctx: OutputsContext): Promise<number> {
  const img = path.join(ctx.tmp, 'exports', 'e.img');
  const map = path.join(ctx.tmp, 'exports', 'e.map');
  let n = 0;
  const t0 = Date.now();
  const first = await blkfs(['import', img, map, '--source', ctx.imagePath, '--cache', path.join(ctx.tmp, 'import-timed')]).done;
  const took = Date.now() - t0;
  if (first.code !== 0) finding(`import: ${first.stderr.slice(0, 300)}`);
  fs.rmSync(path.join(ctx.tmp, 'import-timed'), { recursive: true, force: true });
  console.log(`import: a whole import into a new cache takes ${took} ms`);
  for (let i = 0; i < KILLS; i++) {
    const dir = path.join(ctx.tmp, `import${i}`);
    // The medium as an image file: blkfs import starts its own nbdkit (the logged one is for the mount's reads).
    const job = blkfs(['import', img, map, '--source', ctx.imagePath, '--cache', dir]);
    await sleep(rnd(took));
    const kids = job.child.pid ? descendants(job.child.pid) : [];
    job.child.kill('SIGKILL');
    const r = await job.done;
    n++;
    await sleep(200);
    const orphans = kids.filter(alive);
    if (orphans.length) {
      finding(`import kill ${i + 1}: ${orphans.length} child process(es) of the killed import still run: ${orphans.join(' ')}`);
      for (const p of orphans) process.kill(p, 'SIGKILL');
    }
    const st = committedState(dir, ctx.sectors);
    let plus = 0;
    if (st) {
      const wrong = wrongPlusSectors(dir, st.status, ctx.medium);
      if (wrong.length) finding(`import kill ${i + 1}: '+' sectors with wrong bytes ${JSON.stringify(wrong.slice(0, 5))}`);
      plus = st.status.reduce((a, v) => a + (v === 43 ? 1 : 0), 0);
      await verifyCache(dir, `import kill ${i + 1}`);
    }
    const again = await blkfs(['import', img, map, '--source', ctx.imagePath, '--cache', dir]).done;
    if (again.code !== 0) finding(`import kill ${i + 1}: the import again failed (${again.code}): ${again.stderr.slice(0, 300)}`);
    const done = committedState(dir, ctx.sectors);
    const total = done ? done.status.reduce((a, v) => a + (v === 43 ? 1 : 0), 0) : 0;
    const want = ctx.isBad.reduce((a, v) => a + (v ? 0 : 1), 0);
    if (total !== want) finding(`import kill ${i + 1}: after the import again ${total} sectors '+', want ${want}`);
    await verifyCache(dir, `import kill ${i + 1}, again`);
    console.log(`import kill ${i + 1}: killed ${r.signal ? 'running' : `after exit ${r.code}`}, ${st ? `${plus} sectors '+' then` : 'no cache state yet'}; imported again: ${total} '+'`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return n;
}

/** Bags under final names in dest: each has every manifest entry with its sha256. */
function checkBags(dest: string, label: string): number {
  let bags = 0;
  for (const name of fs.readdirSync(dest)) {
    if (/partial|\.lock$|\.tmp$/.test(name)) continue;
    const bag = path.join(dest, name);
    bags++;
    const manifest = path.join(bag, 'manifest-sha256.txt');
    if (!fs.existsSync(manifest)) {
      finding(`${label}: bag ${name} has no manifest-sha256.txt`);
      continue;
    }
    for (const line of fs.readFileSync(manifest, 'utf8').split('\n').filter(Boolean)) {
      const [sum, rel] = line.split(/\s+/);
      const f = path.join(bag, rel);
      const got = fs.existsSync(f) ? createHash('sha256').update(fs.readFileSync(f)).digest('hex') : 'missing';
      if (got !== sum) finding(`${label}: bag ${name}: ${rel} is ${got}, its manifest says ${sum}`);
    }
  }
  return bags;
}

async function archiveKills(ctx: OutputsContext): Promise<number> {
  const dest = path.join(ctx.tmp, 'bags');
  fs.mkdirSync(dest);
  let n = 0;
  const t0 = Date.now();
  for (let i = 0; i < KILLS; i++) {
    const killCli = i % 2 === 0;
    const job = blkfs(['archive', ctx.mnt, dest, '-q']);
    await sleep(100 + rnd(2500));
    if (killCli) job.child.kill('SIGKILL');
    else {
      await killServer(ctx.pid, ctx.mnt, ctx.cache);
      ctx.pid = await mount(ctx.uri, ctx.mnt, ctx.cache);
    }
    const r = await job.done;
    n++;
    const bags = checkBags(dest, `archive kill ${i + 1}`);
    const said = r.stderr.trim().split('\n').filter((l) => l.startsWith('blkfs:')).pop() ?? '';
    console.log(`archive kill ${i + 1} (${killCli ? 'CLI' : 'server'}): ${r.signal ?? `exit ${r.code}`}${said ? ` "${said.slice(0, 160)}"` : ''}; complete bags ${bags}; left: ${leftovers(dest).join(' ') || '-'}`);
    if (bags > 0) break; // it finished before the kill
  }
  const end = await blkfs(['archive', ctx.mnt, dest, '-q']).done;
  if (end.code !== 0 && !/exists|already/.test(end.stderr)) finding(`archive after kills (${end.code}): ${end.stderr.slice(0, 300)}`);
  const bags = checkBags(dest, 'archive after kills');
  if (bags !== 1) finding(`archive after kills: ${bags} complete bags`);
  console.log(`archive: after the kills, archive again: exit ${end.code}, ${bags} complete bag, ${Date.now() - t0} ms in all; left: ${leftovers(dest).join(' ') || '-'}`);
  return n;
}

async function sbxReadKills(ctx: OutputsContext): Promise<number> {
  const whole = async (): Promise<string> => {
    const r = await start('sha256sum', [path.join(ctx.mnt, 'sbx', 'image.sbx')]).done;
    if (r.code !== 0) finding(`sbx read: ${r.stderr}`);
    return r.stdout.split(' ')[0];
  };
  const first = await whole();
  for (let i = 0; i < 3; i++) {
    const job = start('dd', [`if=${path.join(ctx.mnt, 'sbx', 'image.sbx')}`, 'of=/dev/null', 'bs=1M', 'status=none']);
    await sleep(rnd(800));
    await killServer(ctx.pid, ctx.mnt, ctx.cache);
    await job.done;
    ctx.pid = await mount(ctx.uri, ctx.mnt, ctx.cache);
  }
  const again = await whole();
  if (again !== first) finding(`/sbx/image.sbx differs after kills during its reads (${first} then ${again})`);
  console.log(`sbx: 3 server kills during /sbx/image.sbx reads; the container reads the same after (${again.slice(0, 16)}…)`);
  return 3;
}

export async function tortureOutputs(ctx: OutputsContext): Promise<void> {
  const e = await exportKills(ctx);
  const i = await importKills(ctx);
  const a = await archiveKills(ctx);
  const s = await sbxReadKills(ctx);
  console.log(`outputs: ${e} export, ${i} import, ${a} archive, ${s} /sbx kills`);
}

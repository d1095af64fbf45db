#!/usr/bin/env node
// Checks src/: no import cycles (type-only imports count), layers point one way, no file over about 450 lines.
// Layers (an import may only go to its own layer or one to its right): cli → server|fuse → views → archive|files →
// cache → source, views|archive → sbx, views → map; sbx, map and source import nothing of ours but the leaves errors.ts, clean-spawn.ts, proc-fds.ts, visible-text.ts, byte-size.ts, partial-file.ts, stop-signals.ts, temp-dirs.ts and thread-cpus.ts.   Usage: node scripts/check-imports.js
const fs = require('fs');
const path = require('path');
const src = path.join(__dirname, '..', 'src');
const files = [];
(function walk(d) { for (const e of fs.readdirSync(d, { withFileTypes: true })) e.isDirectory() ? walk(path.join(d, e.name)) : e.name.endsWith('.ts') && files.push(path.join(d, e.name)); })(src);
const rel = (f) => path.relative(src, f);
const layerOf = (f) => rel(f).split(path.sep)[0].replace(/\.ts$/, '');
const allowed = { cli: ['server', 'fuse', 'views', 'archive', 'files', 'cache', 'source', 'sbx', 'map'], server: ['fuse', 'views', 'archive', 'files', 'cache', 'source', 'sbx', 'map'], fuse: ['views', 'cache', 'source'], views: ['archive', 'files', 'cache', 'sbx', 'source', 'map'], archive: ['cache', 'sbx', 'source'], files: ['cache', 'source'], cache: ['source'], source: [], sbx: [], map: [] };
const deps = new Map();
const problems = [];
for (const f of files) {
  const text = fs.readFileSync(f, 'utf8');
  const lines = text.trimEnd().split('\n').length;
  if (lines > 460) problems.push(`${rel(f)}: ${lines} lines (about 450 at most)`);
  const out = [];
  for (const m of text.matchAll(/(?:import|export)\s[^;]*?from\s+'(\.[^']+)'|import\('(\.[^']+)'\)/g)) {
    const t = path.resolve(path.dirname(f), m[1] ?? m[2]);
    const target = [t + '.ts', path.join(t, 'index.ts')].find((p) => fs.existsSync(p));
    if (!target) continue;
    out.push(target);
    const [a, b] = [layerOf(f), layerOf(target)];
    if (a !== b && b !== 'errors' && b !== 'version' && b !== 'clean-spawn' && b !== 'proc-fds' && b !== 'visible-text' && b !== 'byte-size' && b !== 'partial-file' && b !== 'stop-signals' && b !== 'temp-dirs' && b !== 'thread-cpus' && !(allowed[a] ?? []).includes(b)) problems.push(`${rel(f)} → ${rel(target)}: ${a} must not depend on ${b}`);
  }
  deps.set(f, out);
}
const state = new Map();
const stack = [];
function visit(f) {
  state.set(f, 1);
  stack.push(f);
  for (const d of deps.get(f) ?? []) {
    if (state.get(d) === 1) problems.push(`cycle: ${stack.slice(stack.indexOf(d)).concat(d).map(rel).join(' → ')}`);
    else if (!state.has(d)) visit(d);
  }
  stack.pop();
  state.set(f, 2);
}
for (const f of files) if (!state.has(f)) visit(f);
for (const p of problems) console.log(p);
console.log(`${files.length} files, ${problems.length} problem(s)`);
process.exit(problems.length ? 1 : 0);

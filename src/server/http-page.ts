// The web page: one self-contained HTML document (no external scripts, styles or fonts). It fetches
// status.json, bad-areas.json and rescued.json, and reloads them with the map picture on every `status`
// server-sent event (or every 5 s if events do not get through). Names from the medium are shown as visibleName
// (src/visible-text.ts) shows them in a terminal, and only ever set as text, never as HTML.
import { createHash } from 'crypto';
import { HIDDEN_CHARS } from '../visible-text';

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>blkfs rescue</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; background: #181818; color: #e8e8e8; }
  h1 { font-size: 1.3em; margin: 0 0 .5em; } h2 { font-size: 1.05em; margin: 1.2em 0 .4em; }
  table { border-collapse: collapse; } td, th { padding: .15em .8em .15em 0; text-align: left; vertical-align: top; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  #pct { font-size: 2em; font-weight: bold; color: #20e020; }
  a { color: #7cc7ff; } img { max-width: 100%; image-rendering: pixelated; }
  .muted { color: #999; }
</style>
</head>
<body>
<h1>blkfs rescue of <span id="source">…</span></h1>
<div><span id="pct">…</span> rescued <span class="muted" id="rescued-bytes"></span></div>
<table id="facts">
  <tr><th>size</th><td id="size"></td></tr>
  <tr><th>bad</th><td id="bad"></td></tr>
  <tr><th>left to try</th><td id="untried"></td></tr>
  <tr><th>read rate</th><td id="rate"></td></tr>
  <tr><th>ETA</th><td id="eta"></td></tr>
  <tr><th>phase</th><td id="phase"></td></tr>
  <tr><th>ddrescue</th><td id="driver"></td></tr>
  <tr><th>SBX image</th><td id="sbx"></td></tr>
  <tr><th>files</th><td id="files"></td></tr>
  <tr><th>cache</th><td id="cache"></td></tr>
  <tr><th>log</th><td id="log"></td></tr>
</table>
<h2>Map</h2>
<img id="map" alt="map of the medium" src="map.png">
<h2>Downloads</h2>
<ul>
  <li><a href="sbx/image.sbx" download>image.sbx</a> (the image as an SBX container; reading it completes the rescue first) and <a href="sbx/image.map" download>image.map</a></li>
  <li><a href="mapfile" download>mapfile</a> (GNU ddrescue mapfile of the cache)</li>
  <li><a href="files.txt" download>files.txt</a>, <a href="files.csv" download>files.csv</a>, <a href="files.json" download>files.json</a> (which files the bad or unread sectors hit)</li>
  <li><a href="checksums" download>checksums</a> (of the image, once it is complete)</li>
</ul>
<h2>Found SBX containers (/rescued/)</h2>
<ul id="finds"><li class="muted">none yet</li></ul>
<h2>Bad areas</h2>
<table id="bad-areas"><tr><th>position</th><th>size</th></tr></table>
<p class="muted">Updated <span id="updated">never</span>. <span id="live"></span></p>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const P = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
function bytes(n) { if (n < 1000) return n + ' B'; let i = 0; while (n >= 1000 && i < P.length - 1) { n /= 1000; i++; } return (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0)) + ' ' + P[i]; }
function pct(a, b) { if (!b) return '0%'; const p = 100 * a / b; if (p > 99.99 && a < b) return '99.99%'; if (p < 0.01 && a > 0) return '<0.01%'; return p.toFixed(2).replace(/\\.?0+$/, '') + '%'; }
function hex(n) { return '0x' + n.toString(16).toUpperCase().padStart(8, '0'); }
function dur(s) { s = Math.round(s); if (s < 60) return s + 's'; if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's'; if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor(s % 3600 / 60) + 'm'; return Math.floor(s / 86400) + 'd ' + Math.floor(s % 86400 / 3600) + 'h'; }
const PHASES = { '?': 'copying non-tried blocks', '*': 'trimming non-trimmed blocks', '/': 'scraping non-scraped blocks', '-': 'retrying bad sectors', '+': 'finished' };
function text(id, t) { $(id).textContent = t; }
const HIDDEN = new RegExp(${JSON.stringify(HIDDEN_CHARS.source)}, 'g');
function visible(name) { return name.replace(HIDDEN, (c) => '<U+' + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0') + '>'); }
let version = 0;
async function getJson(p) { const r = await fetch(p, { cache: 'no-store' }); if (!r.ok) throw new Error(p + ': ' + r.status); return r.json(); }
async function refresh() {
  const s = await getJson('status.json');
  const size = s.size || 0;
  const left = (s.bytesUntried || 0) + (s.bytesNonTrimmed || 0) + (s.bytesNonScraped || 0);
  text('source', (s.server && s.server.source) || '?');
  text('pct', pct(s.bytesCached || 0, size));
  text('rescued-bytes', '(' + bytes(s.bytesCached || 0) + ' of ' + bytes(size) + ')');
  text('size', bytes(size) + ' (' + size + ' bytes, ' + s.sectorSize + '-byte sectors)');
  const areas = s.map ? ' in ' + s.map.badAreas + ' area(s), largest ' + bytes(s.map.largestBadArea) : '';
  text('bad', bytes(s.bytesBad || 0) + areas);
  text('untried', bytes(left));
  text('rate', bytes(s.readRateBytesPerSec || 0) + '/s');
  text('eta', s.etaSeconds != null ? dur(s.etaSeconds) : (left === 0 ? 'done' : 'idle'));
  text('phase', (PHASES[s.phase] || s.phase) + ' (pass ' + s.pass + ') at ' + hex(s.currentPos || 0) + (s.acquiring ? ', acquisition running' + (/^-/.test(s.acquisitionOptions || '') ? ' (' + s.acquisitionOptions + ')' : '') : ''));
  const d = s.driver;
  text('driver', d ? d.program + ': ' + (PHASES[d.phase] || d.phase) + ' (pass ' + d.pass + ') at ' + hex(d.currentPos || 0) : 'none');
  const img = s.sbx && s.sbx.image;
  text('sbx', img ? img.phase + ' for image.sbx: ' + pct(img.bytesDone, img.bytesTotal) + ' of ' + bytes(img.bytesTotal) + (img.rateBytesPerSec ? ', ' + bytes(img.rateBytesPerSec) + '/s' : '') + (img.etaSeconds != null ? ', ETA ' + dur(img.etaSeconds) : '') : 'idle');
  const f = s.files;
  text('files', f && f.layout === 'ready' ? f.damaged + ' damaged, ' + f.unknown + ' unknown, ' + f.incomplete + ' incomplete, ' + f.intact + ' intact of ' + f.files + ' (files.txt)' : 'layout ' + (f ? f.layout : 'not read'));
  text('cache', (s.server && s.server.cacheDir) || '');
  text('log', (s.server && s.server.log) || 'stderr of blkfs mount -f');
  // The new picture is loaded aside and swapped in whole (no flicker, no half-drawn map).
  const v = ++version, im = new Image();
  im.onload = () => { if (v === version) { $('map').src = im.src; document.body.dataset.mapVersion = String(v); } };
  im.src = 'map.png?v=' + v;
  const [bad, finds] = await Promise.all([getJson('bad-areas.json'), getJson('rescued.json')]);
  const t = $('bad-areas');
  while (t.rows.length > 1) t.deleteRow(1);
  for (const b of bad) { const r = t.insertRow(); r.insertCell().textContent = hex(b.pos); const c = r.insertCell(); c.className = 'num'; c.textContent = bytes(b.size); }
  const ul = $('finds');
  ul.replaceChildren();
  for (const f of finds) for (const file of f.files) {
    const li = document.createElement('li'); const a = document.createElement('a');
    a.href = 'rescued/' + encodeURIComponent(f.uid) + '/' + encodeURIComponent(file.name); a.download = file.name;
    a.textContent = visible(f.uid + '/' + file.name); li.append(a, ' (' + (file.size === null ? 'size not known yet: it needs sectors read' : bytes(file.size)) + ')'); ul.append(li);
  }
  if (!ul.children.length) { const li = document.createElement('li'); li.className = 'muted'; li.textContent = 'none yet'; ul.append(li); }
  text('updated', new Date().toLocaleTimeString());
  document.body.dataset.version = String(version);
}
let busy = false, again = false;
async function kick() { if (busy) { again = true; return; } busy = true; try { await refresh(); } catch (e) { text('live', String(e)); } busy = false; if (again) { again = false; kick(); } }
kick();
if (window.EventSource) { const es = new EventSource('events'); es.addEventListener('status', kick); es.onopen = () => text('live', 'live'); es.onerror = () => text('live', 'reconnecting…'); }
setInterval(kick, 5000);
</script>
</body>
</html>
`;

/**
 * The page's Content-Security-Policy, behind the rule that names are only set as text: only its own inline script and
 * style run (by their SHA-256), it fetches and shows only this server's files, and no other site may frame it (a
 * page framing it could dress its download links up as something else).
 */
export const PAGE_CSP = ((): string => {
  const inner = (tag: string) => PAGE_HTML.slice(PAGE_HTML.indexOf(`<${tag}>`) + tag.length + 2, PAGE_HTML.indexOf(`</${tag}>`));
  const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
  return [
    "default-src 'none'",
    `script-src ${hash(inner('script'))}`,
    `style-src ${hash(inner('style'))}`,
    "img-src 'self'",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
})();

import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// Every blkfs command starts by defining them all (for --help): that must not load what only one command's run
// needs (the SBX codec, the cache and NBD layers, SQLite, FUSE, the S3 SDK), or every command pays for all of it.
const MAIN = path.join(__dirname, '..', '..', '..', 'src', 'cli', 'main.js');
const SRC = path.dirname(path.dirname(MAIN));

/** The command definitions, and what they use: option parsers' bounds and choices, the version. */
const DEFINITIONS = ['cli/main.js', 'cli/commands.js', 'cli/sbx/index.js', 'cli/archive-options.js', 'cli/block-size-option.js', 'cli/nbdkit-filter-option.js', 'errors.js', 'version.js'];
const DEFINITION_LEAVES = ['source/sector-size.js', 'source/source-spec.js', 'cache/readahead-limits.js', 'server/log.js'];

/** The modules (relative to dist/src/, or node_modules/<package>) a blkfs command line has loaded when it exits. */
function modulesLoadedBy(args: string[]): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-startup-'));
  try {
    const out = path.join(dir, 'modules.json');
    const preload = path.join(dir, 'record.js');
    fs.writeFileSync(preload, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.keys(require.cache))));`);
    const r = spawnSync(process.execPath, ['--require', preload, MAIN, ...args], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    return (JSON.parse(fs.readFileSync(out, 'utf8')) as string[])
      .filter((f) => f !== preload)
      .map((f) => (f.startsWith(SRC + path.sep) ? path.relative(SRC, f) : f.replace(/^.*\/node_modules\/((?:@[^/]+\/)?[^/]+).*$/, 'node_modules/$1')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('blkfs start-up: what a command line loads', () => {
  for (const args of [['--version'], ['--help'], ['sbx', 'calc', '--help'], ['archive', '--help'], ['mount', '--help']]) {
    it(`blkfs ${args.join(' ')}: commander and the command definitions only`, () => {
      const loaded = modulesLoadedBy(args);
      const more = loaded.filter((m) => m !== 'node_modules/commander' && !DEFINITIONS.includes(m) && !DEFINITION_LEAVES.includes(m));
      expect(more).to.deep.equal([]);
      expect(loaded).to.include.members(['cli/commands.js', 'cli/sbx/index.js']);
    });
  }

  it('blkfs sbx calc: the container arithmetic, not the codec (Reed-Solomon, WASM kernels), the mount side or any package but commander', () => {
    const loaded = modulesLoadedBy(['sbx', 'calc', '1000000']);
    expect(loaded).to.include('sbx/calc.js');
    expect(loaded.filter((m) => !DEFINITION_LEAVES.includes(m) && /^(sbx\/format\/(reed-solomon|wasm-kernels)|sbx\/(encode|decode)|cache|server|views|archive|fuse|map)\b|^node_modules\/(?!commander$)/.test(m))).to.deep.equal([]);
  });
});

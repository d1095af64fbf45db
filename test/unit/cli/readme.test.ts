// The project's rule "keep the README true: every CLI command with an example", checked against the CLI itself:
// every command and every option `--help` shows is named in README.md, every argument and option has a help text,
// and every --option README.md names still exists. A new option fails here until README.md shows it.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import type { Command, Option } from 'commander';
import { buildProgram } from '../../../src/cli/main';

const README = fs.readFileSync(path.join(__dirname, '../../../../README.md'), 'utf8');
/** Options of other programs that README.md shows: losetup's `--show`, nbdkit's `--run`, ddrescue's `--fill-mode`, bench/fuzz-inputs.js's. */
const OTHER_PROGRAMS = new Set(['--show', '--run', '--seed', '--duration', '--targets', '--fill-mode']);

function commandsOf(cmd: Command, prefix: string): { name: string; cmd: Command }[] {
  return cmd.commands
    .filter((c) => c.name() !== 'help')
    .flatMap((c) => [{ name: `${prefix} ${c.name()}`, cmd: c }, ...commandsOf(c, `${prefix} ${c.name()}`)]);
}

const program = buildProgram();
const commands = commandsOf(program, 'blkfs');
const shown = (c: Command): Option[] => c.options.filter((o) => !o.hidden);

describe('README.md and the CLI', () => {
  it('names every command and alias', () => {
    const missing = commands.flatMap(({ name, cmd }) =>
      [name, ...cmd.aliases().map((a) => name.replace(/\S+$/, a))].filter((n) => !new RegExp(`${n}\\b`).test(README)),
    );
    expect(missing, 'commands README.md does not name').to.deep.equal([]);
  });

  it('names every option --help shows, by its long name or its short flag on a line of its command', () => {
    const lines = README.split('\n');
    const missing = commands.flatMap(({ name, cmd }) =>
      shown(cmd)
        .filter((o) => !(o.long && README.includes(o.long)))
        .filter((o) => !(o.short && lines.some((l) => l.includes(cmd.name()) && new RegExp(` ${o.short}[ :,)]`).test(l))))
        .map((o) => `${name} ${o.flags}`),
    );
    expect(missing, 'options README.md does not name').to.deep.equal([]);
  });

  it('every argument and option has a help text', () => {
    const bare = commands.flatMap(({ name, cmd }) => [
      ...cmd.registeredArguments.filter((a) => !a.description).map((a) => `${name} <${a.name()}>`),
      ...shown(cmd).filter((o) => !o.description).map((o) => `${name} ${o.flags}`),
    ]);
    expect(bare).to.deep.equal([]);
  });

  it('names no --option that does not exist', () => {
    const exists = new Set(['--help', '--version', ...commands.flatMap(({ cmd }) => cmd.options.map((o) => o.long ?? ''))]);
    const gone = [...new Set(README.match(/--[a-z][a-z0-9-]*/g) ?? [])].filter((o) => !exists.has(o) && !OTHER_PROGRAMS.has(o));
    expect(gone).to.deep.equal([]);
  });
});

// Numbers as GNU ddrescue 1.27 takes them for -i, -s and the like (manual, "Invoking ddrescue"): a C++ integer
// constant (decimal, 0x hexadecimal, 0 octal), then an optional multiplier (k M G T P E Z Y = powers of 1000;
// Ki Mi Gi ... = powers of 1024; 'K' only as Ki, 'k' never with i), then an optional 's' (times the sector size,
// so 'Kis' is 1024 sectors) or 'B' (bytes).
import { UserError } from '../errors';

const EXPONENTS: Record<string, number> = { k: 1, K: 1, M: 2, G: 3, T: 4, P: 5, E: 6, Z: 7, Y: 8 };

const SYNTAX = /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)(?:([kKMGTPEZY])(i?))?([sB]?)$/;

/** The value in bytes; `option` names the option in the error (a UserError) for a malformed or too large number. */
export function parseDdrescueNumber(text: string, option: string, sectorSize: number): number {
  const m = SYNTAX.exec(text.trim());
  const bad = (why: string) => new UserError(`${option} ${JSON.stringify(text)}: ${why}`);
  if (!m) throw bad("not a number as ddrescue takes it (e.g. 1048576, 0x100000, 2048s, 1Mi, 10M)");
  const [, sign, digits, prefix, binary, unit] = m;
  if (prefix === 'K' && binary !== 'i') throw bad("'K' is only a multiplier as 'Ki' (1024); 'k' is 1000");
  if (prefix === 'k' && binary === 'i') throw bad("'ki' is not a multiplier: 'Ki' is 1024, 'k' is 1000");
  let value = BigInt(/^0[0-7]+$/.test(digits) ? '0o' + digits.slice(1) : digits);
  if (prefix) value *= (binary ? 1024n : 1000n) ** BigInt(EXPONENTS[prefix]);
  if (unit === 's') value *= BigInt(sectorSize);
  if (sign === '-') value = -value;
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) throw bad('too large');
  return Number(value);
}

// `blkfs sbx …`: the blkar toolkit. One file per command; each only parses options, calls its workflow in
// src/sbx/ and prints through report.ts.
import { Command } from 'commander';
import { registerCalc } from './calc';
import { registerCheck } from './check';
import { registerDecode } from './decode';
import { registerEncode } from './encode';
import { registerRepair } from './repair';
import { registerRescue } from './rescue';
import { registerShow } from './show';
import { registerSort } from './sort';
import { registerUpdate } from './update';

export function registerSbxCommands(program: Command): void {
  const sbx = program
    .command('sbx')
    .description('SeqBox / EC-SeqBox archive toolkit, compatible with blkar 7.2.7')
    .showHelpAfterError();
  registerEncode(sbx);
  registerDecode(sbx);
  registerCheck(sbx);
  registerShow(sbx);
  registerCalc(sbx);
  registerRepair(sbx);
  registerRescue(sbx);
  registerSort(sbx);
  registerUpdate(sbx);
}

import { expect } from 'chai';
import Database from 'better-sqlite3';
import { BlockIndex } from '../../../src/views/rescued/block-index';
import { parseHeader } from '../../../src/sbx/format/header';
import { makeContainer } from './containers';

describe('BlockIndex (the SBX blocks found on the medium, in the cache database)', () => {
  it('a record() whose transaction fails leaves nothing behind, in the database or in memory; the retry records it all', async () => {
    const container = await makeContainer(Buffer.alloc(3000, 7), { version: 17, d: 2, p: 1, uid: '0F0000000001' });
    const blocks = [0, 1, 2, 3, 4, 5].map((i) => ({ pos: 4096 + i * 512, header: parseHeader(container, i * 512)! }));
    const geometries = [{ uid: '0F0000000001', version: 17 as const, d: 2, p: 1 }];
    const db = new Database(':memory:');
    const index = new BlockIndex(db);
    // The commit fails at its last statement, as on a full disk.
    db.exec("CREATE TEMP TRIGGER full BEFORE INSERT ON sbx_scanned BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
    expect(() => index.record(blocks, geometries, [{ start: 0, end: 8192 }])).to.throw(/disk is full/);
    expect(index.uids()).to.deep.equal([]);
    expect(index.maxIdOfUid('0F0000000001')).to.equal(0);
    expect(index.geometryOf('0F0000000001', 17)).to.equal(undefined);
    db.exec('DROP TRIGGER full');
    expect(index.record(blocks, geometries, [{ start: 0, end: 8192 }])).to.equal(6);
    expect(index.uids().map((u) => u.blocks)).to.deep.equal([6]);
    // What a remount sees: the geometry is in the database too.
    expect(new BlockIndex(db).geometryOf('0F0000000001', 17)).to.deep.equal(geometries[0]);
  });
});

// The test helper other areas use to count device reads at the NBD level.
import { expect } from 'chai';
import { overlaps, parseNbdkitLog, union } from '../../../helpers/nbdkit-log';

// Lines as nbdkit 1.32.5's log filter writes them (parallel requests interleave, ids are per connection).
const LOG = `2026-11-21 21:39:45.531778 Ready thread_model=3
2026-11-21 21:39:46.026316 connection=1 Connect export="" tls=0 size=0x300000 minsize=0x0 prefsize=0x0 maxsize=0x0 write=0
2026-11-21 21:39:46.027447 connection=1 Read id=1 offset=0x0 count=0x40000 ...
2026-11-21 21:39:46.027500 connection=1 Read id=2 offset=0x100000 count=0x200 ...
2026-11-21 21:39:46.027636 connection=1 ...Read id=1 return=0
2026-11-21 21:39:46.030661 connection=1 ...Read id=2 return=-1 error=EIO
2026-11-21 21:39:46.037536 connection=2 Connect export="" tls=0 size=0x300000
2026-11-21 21:39:46.041637 connection=2 Read id=1 offset=0x3fe00 count=0x400 ...
2026-11-21 21:39:46.041669 connection=2 ...Read id=1 return=0
2026-11-21 21:39:46.041700 connection=2 Read id=2 offset=0x80000 count=0x1000 ...
2026-11-21 21:39:46.041800 connection=2 ...Read id=2 ret`;

describe('test helper nbdkit-log', () => {
  it('pairs requests with their returns per connection (when answered: nbdkit local time, to the ms); a half-written last line counts as pending', () => {
    const local = (time: string) => new Date(`2026-11-21T${time}`).getTime();
    const log = parseNbdkitLog(LOG);
    expect(log.reads).to.deep.equal([
      { connection: 1, id: 1, offset: 0, count: 0x40000, outcome: 'ok', returnedAt: local('21:39:46.027') },
      { connection: 1, id: 2, offset: 0x100000, count: 0x200, outcome: 'failed', error: 'EIO', returnedAt: local('21:39:46.030') },
      { connection: 2, id: 1, offset: 0x3fe00, count: 0x400, outcome: 'ok', returnedAt: local('21:39:46.041') },
      { connection: 2, id: 2, offset: 0x80000, count: 0x1000, outcome: 'pending' },
    ]);
    expect(log.ok).to.deep.equal([{ offset: 0, length: 0x40000 }, { offset: 0x3fe00, length: 0x400 }]);
    expect(log.failed).to.deep.equal([{ offset: 0x100000, length: 0x200 }]);
    expect(log.okBytes).to.equal(0x40400);
  });

  it('overlaps() finds bytes read more than once; adjacent reads do not overlap', () => {
    expect(overlaps(parseNbdkitLog(LOG).ok)).to.deep.equal([{ offset: 0x3fe00, length: 0x200 }]);
    expect(overlaps([{ offset: 0, length: 10 }, { offset: 10, length: 10 }])).to.deep.equal([]);
    expect(overlaps([{ offset: 0, length: 10 }, { offset: 5, length: 5 }, { offset: 10, length: 10 }, { offset: 10, length: 5 }])).to.deep.equal([{ offset: 5, length: 10 }]);
    expect(overlaps([{ offset: 0, length: 100 }, { offset: 0, length: 100 }, { offset: 0, length: 100 }])).to.deep.equal([{ offset: 0, length: 100 }]);
  });

  it('union() merges overlapping and adjacent ranges', () => {
    expect(union([{ offset: 20, length: 5 }, { offset: 0, length: 10 }, { offset: 10, length: 5 }, { offset: 3, length: 2 }])).to.deep.equal([
      { offset: 0, length: 15 },
      { offset: 20, length: 5 },
    ]);
  });
});

// Preloaded with `node --require` to run the real `blkfs sbx encode` with its clock pinned (SDT), as the
// reference vectors were made with blkar's clock pinned: BLKFS_TEST_NOW=<unix seconds>.
const now = Number(process.env.BLKFS_TEST_NOW);
if (Number.isFinite(now) && now > 0) Date.now = () => now * 1000;

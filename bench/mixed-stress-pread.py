#!/usr/bin/env python3
# A reader for bench/mixed-stress: random preads of a blkfs /raw (buffered, or O_DIRECT with aligned buffers) until a
# deadline, each checked at once against the medium's own image file(s). Prints one JSON object.
#   mixed-stress-pread.py RAW OUT_JSON --media A.img[,B.img] --bad BAD.json --mode direct|buffered --seed N
#                         --until EPOCH [--max-len BYTES]
# With one medium: every byte returned equals the medium, no returned byte lies in a bad sector, EIO only when the
# read starts in a bad sector, a short read stops right before one. With two media (a swap under a loop device):
# each read is classified as A, B, both (bytes equal there) or neither (a mix, or foreign bytes), with its times;
# after ENOMEDIUM or ENXIO the reader opens the file again, as a program would.
import argparse, bisect, errno, json, mmap, os, random, sys, time

p = argparse.ArgumentParser()
p.add_argument('raw'); p.add_argument('out')
p.add_argument('--media', required=True); p.add_argument('--bad', default='')
p.add_argument('--mode', choices=['direct', 'buffered'], default='buffered')
p.add_argument('--seed', type=int, default=1); p.add_argument('--until', type=float, required=True)
p.add_argument('--max-len', type=int, default=2 << 20)
a = p.parse_args()

media = []
for path in a.media.split(','):
    with open(path, 'rb') as f:
        media.append(mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ))
size = len(media[0])
bad = json.load(open(a.bad)) if a.bad else []  # [[offset, length], ...] sorted
bad_starts = [b[0] for b in bad]


def first_bad(lo, hi):
    """Lowest bad byte in [lo, hi), or None."""
    if hi <= lo:
        return None
    i = bisect.bisect_right(bad_starts, lo) - 1
    if i >= 0 and bad[i][0] + bad[i][1] > lo:
        return lo
    i += 1
    if i < len(bad) and bad[i][0] < hi:
        return bad[i][0]
    return None


rng = random.Random(a.seed)
flags = os.O_RDONLY | (os.O_DIRECT if a.mode == 'direct' else 0)
fd = os.open(a.raw, flags)
opened = time.time()
buf = mmap.mmap(-1, a.max_len + 4096)  # page-aligned, as O_DIRECT needs
stats = {'mode': a.mode, 'seed': a.seed, 'reads': 0, 'bytes': 0, 'eio': 0, 'short': 0, 'errors': {}, 'violations': [], 'records': []}


def stop_ok(x, read_end):
    """A read may stop (short, or EIO) at x: at a bad sector, or at the start of a FUSE request of whole pages
    (at most 1 MiB: the mount server preloads fuse-max-pages.so) holding one, which /raw fails whole (README: a mapped
    file's pages are never zero-filled)."""
    if first_bad(x, x + 1) is not None:
        return True
    req = min(read_end, x + 1048576) - x
    return x % 4096 == 0 and req % 4096 == 0 and first_bad(x, x + req) is not None


def violation(msg):
    if len(stats['violations']) < 50:
        stats['violations'].append(msg)


while time.time() < a.until:
    if a.mode == 'direct':
        off = rng.randrange(0, size // 512 + 2) * 512
        ln = rng.randrange(1, a.max_len // 512 + 1) * 512
    else:
        off = rng.randrange(0, size + 1000)
        ln = rng.choice([rng.randrange(1, 4097), rng.randrange(1, a.max_len + 1)])
    t0 = time.time()
    try:
        n = os.preadv(fd, [memoryview(buf)[:ln]], off)
    except OSError as e:
        t1 = time.time()
        name = errno.errorcode.get(e.errno, str(e.errno))
        stats['errors'][name] = stats['errors'].get(name, 0) + 1
        stats['reads'] += 1
        if len(media) == 1:
            if e.errno == errno.EIO:
                stats['eio'] += 1
                if not stop_ok(off, off + ln):
                    violation(f'EIO at {off} (+{ln}), which is neither a bad sector nor a request of whole pages holding one')
            else:
                violation(f'{name} at {off} (+{ln})')
        else:
            stats['records'].append([t0, t1, off, ln, name, opened])
            if e.errno in (errno.ENOMEDIUM, errno.ENXIO):  # the medium changed: a program opens the file again
                time.sleep(0.05)
                os.close(fd)
                fd = os.open(a.raw, flags)
                opened = time.time()
        continue
    t1 = time.time()
    stats['reads'] += 1
    stats['bytes'] += n
    want = min(ln, max(0, size - off))
    got = bytes(buf[:n])
    if len(media) == 1:
        m = media[0]
        if got != m[off:off + n]:
            i = next(k for k in range(n) if got[k] != m[off + k])
            violation(f'bytes differ from the medium at {off + i} (read {off} +{ln}, got {n}; got {got[i:i+8].hex()}, medium {m[off+i:off+i+8].hex()})')
        fb = first_bad(off, off + n)
        if fb is not None:
            violation(f'read {off} +{ln} returned {n} bytes through the bad sector at {fb}')
        if n < want:
            stats['short'] += 1
            if not stop_ok(off + n, off + ln):
                violation(f'short read {off} +{ln} -> {n}: byte {off + n} is neither in a bad sector nor at a request of whole pages holding one')
    else:
        cls = ''.join(ch for ch, m in zip('AB', media) if got == m[off:off + n]) or 'neither'
        stats['records'].append([t0, t1, off, ln, cls if n == want else f'{cls}:short{n}', opened])
os.close(fd)
json.dump(stats, open(a.out, 'w'))

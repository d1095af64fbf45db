/*
 * fuse-max-pages.so: lets the kernel send FUSE reads of up to 1 MiB to the mount server instead of 128 KiB.
 *
 * fuse-native speaks to the kernel through libfuse 2.9, which predates FUSE_MAX_PAGES (kernel protocol 7.28,
 * Linux 4.20): without it the kernel cuts every read into 128 KiB requests, and each request crosses from libfuse's
 * thread to Node's event loop and back. A sequential reader of /raw then spends most of its time in those
 * crossings (dd bs=1M of warm /raw in bench/speed.sh: 1.1 GB/s with 128 KiB requests, 2.8-3.2 GB/s with 1 MiB
 * ones, on this project's 2-core VM).
 *
 * Loaded with LD_PRELOAD into the mount server only (src/fuse/request-size.ts). It wraps read(2) and writev(2) and
 * changes exactly one message: libfuse's reply to the kernel's FUSE_INIT request on a FUSE device, when the
 * kernel's protocol is 7.28 or later. That reply gets FUSE_MAX_PAGES and max_pages = 256, and is extended to the
 * modern size of struct fuse_init_out (the fields libfuse 2.9 sent keep their values; the ones it did not know are
 * zero, as a shorter reply leaves them). Every other read and write passes through unchanged.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define FUSE_INIT 26
#define FUSE_MAX_PAGES (1u << 22)
#define MAX_PAGES 256 /* the kernel's default limit (fs.fuse.max_pages_limit): 1 MiB */
#define IN_HEADER 40  /* struct fuse_in_header */
#define OUT_HEADER 16 /* struct fuse_out_header */
#define INIT_OUT 64   /* struct fuse_init_out since protocol 7.23 */
#define INIT_OUT_FLAGS 12
#define INIT_OUT_MAX_PAGES 28

static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
/* The unique id of a FUSE_INIT request read and not answered yet (0: none). */
static volatile uint64_t pending_init;

/* Resolved before any thread of the process runs (read() below resolves them too, should it be called earlier). */
__attribute__((constructor)) static void find_real_calls(void) {
  real_read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
  real_writev = (ssize_t(*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
}

static int is_fuse_device(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 10 && minor(st.st_rdev) == 229;
}

static uint32_t u32_at(const void *p, size_t at) {
  uint32_t v;
  memcpy(&v, (const char *)p + at, sizeof v);
  return v;
}

static uint64_t u64_at(const void *p, size_t at) {
  uint64_t v;
  memcpy(&v, (const char *)p + at, sizeof v);
  return v;
}

ssize_t read(int fd, void *buf, size_t count) {
  if (!real_read) real_read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
  ssize_t n = real_read(fd, buf, count);
  /* A FUSE_INIT request: in_header (len, opcode, unique, ...) then fuse_init_in (major, minor, ...). The device
   * check runs only for a read that already looks like one. */
  if (n >= IN_HEADER + 8 && u32_at(buf, 0) == (uint32_t)n && u32_at(buf, 4) == FUSE_INIT && u32_at(buf, IN_HEADER) == 7 &&
      u32_at(buf, IN_HEADER + 4) >= 28 && is_fuse_device(fd)) {
    pending_init = u64_at(buf, 8);
  }
  return n;
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
  if (!real_writev) real_writev = (ssize_t(*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
  uint64_t init = pending_init;
  /* libfuse 2.9 sends a reply as out_header (len, error, unique) plus one argument. */
  if (init != 0 && iovcnt == 2 && iov[0].iov_len == OUT_HEADER && iov[1].iov_len >= INIT_OUT_FLAGS + 4 &&
      iov[1].iov_len <= INIT_OUT && u64_at(iov[0].iov_base, 8) == init && u32_at(iov[0].iov_base, 4) == 0 &&
      u32_at(iov[0].iov_base, 0) == OUT_HEADER + iov[1].iov_len && is_fuse_device(fd)) {
    pending_init = 0;
    unsigned char header[OUT_HEADER], out[INIT_OUT] = {0};
    memcpy(header, iov[0].iov_base, OUT_HEADER);
    memcpy(out, iov[1].iov_base, iov[1].iov_len);
    uint32_t len = OUT_HEADER + INIT_OUT, flags = u32_at(out, INIT_OUT_FLAGS) | FUSE_MAX_PAGES;
    uint16_t pages = MAX_PAGES;
    memcpy(header, &len, sizeof len);
    memcpy(out + INIT_OUT_FLAGS, &flags, sizeof flags);
    memcpy(out + INIT_OUT_MAX_PAGES, &pages, sizeof pages);
    struct iovec extended[2] = {{header, OUT_HEADER}, {out, INIT_OUT}};
    ssize_t r = real_writev(fd, extended, 2);
    /* The count libfuse asked to write (the extension is ours to account for). */
    return r == (ssize_t)len ? (ssize_t)(OUT_HEADER + iov[1].iov_len) : r;
  }
  return real_writev(fd, iov, iovcnt);
}

/*
 * exit-with-parent.so: the mount server that `blkfs mount -f` runs in a child process (src/cli/foreground-child.ts)
 * dies with that command, however the command ends. A command killed with SIGKILL cannot pass anything on; the
 * kernel can: PR_SET_PDEATHSIG sends the child SIGKILL when its parent dies. So killing the command does what it did
 * when the command was the server itself: the mount is left dead, as after any crash, and `blkfs umount` clears it.
 * Without this the server went on serving, holding the mount, the cache and the medium, with nobody to stop it.
 *
 * Preloaded (LD_PRELOAD) into that child only, and active only when BLKFS_EXIT_WITH_PARENT names the parent's pid.
 * It then removes itself and that variable from the environment, so the server's own children (nbdkit, TSK) carry
 * neither (fork clears the death signal for them anyway).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* Removes `self` from LD_PRELOAD, whose entries ld.so separates by spaces or colons. */
static void drop_from_preload(const char *self) {
  const char *list = getenv("LD_PRELOAD");
  if (list == NULL) return;
  char *kept = malloc(strlen(list) + 1);
  if (kept == NULL) return;
  char *out = kept;
  size_t self_len = strlen(self);
  for (const char *p = list; *p != '\0';) {
    size_t len = strcspn(p, " :");
    if (len > 0 && !(len == self_len && strncmp(p, self, len) == 0)) {
      if (out != kept) *out++ = ':';
      memcpy(out, p, len);
      out += len;
    }
    p += len;
    if (*p != '\0') p++;
  }
  *out = '\0';
  if (out == kept) unsetenv("LD_PRELOAD");
  else setenv("LD_PRELOAD", kept, 1);
  free(kept);
}

__attribute__((constructor)) static void exit_with_parent(void) {
  const char *parent = getenv("BLKFS_EXIT_WITH_PARENT");
  if (parent == NULL) return;
  pid_t expected = (pid_t)strtol(parent, NULL, 10);
  unsetenv("BLKFS_EXIT_WITH_PARENT");
  Dl_info self;
  if (dladdr((void *)exit_with_parent, &self) != 0 && self.dli_fname != NULL) drop_from_preload(self.dli_fname);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* The parent died before the line above: nothing would ever send the signal. */
  if (getppid() != expected) raise(SIGKILL);
}

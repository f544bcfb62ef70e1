/* LD_PRELOAD shim for the power-loss test (RELIABILITY G5).

   Whenever the process fsyncs (or fdatasyncs) a regular file under
   $MIXD_POWERLOSS_DIR, a copy of the file as it is at that moment is kept
   next to it as "<name>.synced": what a disk guarantees to hold after a
   power cut. The test then kills the server and puts every file back to its
   last synced copy (a never-synced file disappears): every write that was
   not followed by an fsync is lost, as it may be when the power goes.
   Compiled by tests/reliability/power.py. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

static void fail(const char *what, const char *path) {
    fprintf(stderr, "power_loss shim: %s failed for %s\n", what, path);
    abort();
}

static void keep_synced_copy(int fd) {
    const char *dir = getenv("MIXD_POWERLOSS_DIR");
    if (dir == NULL || *dir == '\0') return;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return;
    path[n] = '\0';
    size_t dir_len = strlen(dir);
    if (strncmp(path, dir, dir_len) != 0 || path[dir_len] != '/') return;
    if (strstr(path, " (deleted)") != NULL) return;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;

    char tmp[PATH_MAX + 16], synced[PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.synced-new", path);
    snprintf(synced, sizeof synced, "%s.synced", path);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) fail("open", tmp);
    off_t offset = 0; /* sendfile with an offset leaves fd's position alone */
    while (offset < st.st_size) {
        if (sendfile(out, fd, &offset, (size_t)(st.st_size - offset)) <= 0) fail("copy", path);
    }
    if (close(out) != 0) fail("close", tmp);
    if (rename(tmp, synced) != 0) fail("rename", tmp);
}

int fsync(int fd) {
    static int (*real)(int);
    if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    keep_synced_copy(fd);
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    keep_synced_copy(fd);
    return real(fd);
}

// Linux file-system calls Swift cannot reach through Glibc: renameat2 is variadic-free but needs _GNU_SOURCE,
// and flock's constants are macros. Each wrapper returns the system call's result (-1 with errno set).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

// Atomically exchanges the directory entries `a` and `b` (both must exist). Fails with EINVAL on file systems
// without exchange support (callers then fall back to two renames).
static inline int swivel_exchange_paths(const char *a, const char *b) {
    return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
}

// Takes an exclusive advisory lock on `descriptor` without waiting (EWOULDBLOCK when another holds it).
static inline int swivel_lock_exclusive_now(int descriptor) {
    return flock(descriptor, LOCK_EX | LOCK_NB);
}

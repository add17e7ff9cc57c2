// Plain C++ over the inotify syscalls. No N-API here: every function returns
// a result >= 0 or -errno, so the binding decides how errors reach JS.
#pragma once

#include <sys/types.h>
#include <cstddef>
#include <cstdint>

namespace inotify_native {

// inotify_init1(IN_NONBLOCK | IN_CLOEXEC): the fd, or -errno.
int OpenInstance();

// inotify_add_watch: the wd, or -errno. `path` is NUL-terminated bytes.
int AddWatch(int fd, const char* path, uint32_t mask);

// inotify_rm_watch: 0, or -errno.
int RemoveWatch(int fd, int wd);

// close(2), retried on EINTR is wrong on Linux (the fd is gone either way).
void CloseInstance(int fd);

// Reads whole records into `buf` until the kernel queue is empty (EAGAIN)
// or fewer than kMinReadSpace bytes remain. Returns the number of bytes
// appended at `buf + used`, and sets *error to an errno other than
// EAGAIN/EINTR if reading failed (0 otherwise).
size_t ReadAvailable(int fd, uint8_t* buf, size_t capacity, size_t used, int* error);

// Whether a regular file is open for writing by any process right now:
// 1 yes, 0 no, -errno when it cannot be told (not the owner and not root,
// leases disabled, a filesystem without leases, the file gone). Asks the
// kernel to grant a read lease, which it refuses (EAGAIN) exactly while a
// writer holds the file open; a granted lease is released at once.
int IsOpenForWrite(const char* path);

// Room for one record with the longest name: one read(2) never fails with
// EINVAL for lack of space when at least this much is free.
extern const size_t kMinReadSpace;

}  // namespace inotify_native

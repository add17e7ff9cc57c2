#include "inotify.h"

#include <cerrno>
#include <climits>
#include <csignal>
#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

namespace inotify_native {

const size_t kMinReadSpace = sizeof(struct inotify_event) + NAME_MAX + 1;

int OpenInstance() {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

int AddWatch(int fd, const char* path, uint32_t mask) {
  int wd = inotify_add_watch(fd, path, mask);
  return wd < 0 ? -errno : wd;
}

int RemoveWatch(int fd, int wd) {
  return inotify_rm_watch(fd, wd) < 0 ? -errno : 0;
}

void CloseInstance(int fd) {
  close(fd);
}

int IsOpenForWrite(const char* path) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return -errno;
  // A writer opening the file while the lease is held makes the kernel
  // signal the holder, with SIGIO by default, which would end the process.
  // SIGURG is ignored unless someone handles it.
  int result = fcntl(fd, F_SETSIG, SIGURG) < 0 ? -errno : 0;
  if (result == 0) {
    if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
      fcntl(fd, F_SETLEASE, F_UNLCK);
    } else {
      result = errno == EAGAIN ? 1 : -errno;
    }
  }
  close(fd);
  return result;
}

size_t ReadAvailable(int fd, uint8_t* buf, size_t capacity, size_t used, int* error) {
  size_t start = used;
  *error = 0;
  while (capacity - used >= kMinReadSpace) {
    ssize_t n = read(fd, buf + used, capacity - used);
    if (n > 0) {
      used += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) *error = errno;
    if (n == 0) *error = EIO;  // inotify never reports EOF; treat it as a fault
    break;
  }
  return used - start;
}

}  // namespace inotify_native

#include "readdir.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <utility>
#include <vector>

namespace inotify_native {

namespace {

char TypeCode(unsigned char d_type) {
  switch (d_type) {
    case DT_DIR: return kTypeDirectory;
    case DT_REG: return kTypeFile;
    case DT_LNK: return kTypeSymlink;
    case DT_FIFO: return kTypeFifo;
    case DT_SOCK: return kTypeSocket;
    case DT_CHR: return kTypeCharDevice;
    case DT_BLK: return kTypeBlockDevice;
    default: return kTypeUnknown;
  }
}

char ModeCode(mode_t mode) {
  if (S_ISDIR(mode)) return kTypeDirectory;
  if (S_ISREG(mode)) return kTypeFile;
  if (S_ISLNK(mode)) return kTypeSymlink;
  if (S_ISFIFO(mode)) return kTypeFifo;
  if (S_ISSOCK(mode)) return kTypeSocket;
  if (S_ISCHR(mode)) return kTypeCharDevice;
  if (S_ISBLK(mode)) return kTypeBlockDevice;
  return kTypeUnknown;
}

bool IsDotOrDotDot(const char* name) {
  return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

// Reorders `out` by name bytes.
void SortListing(Listing* out) {
  const char* data = out->names.data();
  // Each name is followed by '\0' and its type is kept beside it: sort
  // (name, type) pairs by pointer, then rebuild both strings.
  std::vector<std::pair<const char*, char>> entries;
  entries.reserve(out->types.size());
  size_t offset = 0;
  for (char type : out->types) {
    entries.emplace_back(data + offset, type);
    offset += strlen(data + offset) + 1;
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return strcmp(a.first, b.first) < 0; });
  Listing sorted;
  sorted.utf8 = out->utf8;
  sorted.names.reserve(out->names.size());
  sorted.types.reserve(out->types.size());
  for (const auto& entry : entries) {
    sorted.names.append(entry.first, strlen(entry.first) + 1);
    sorted.types.push_back(entry.second);
  }
  *out = std::move(sorted);
}

}  // namespace

// The kernel's struct linux_dirent64, declared here so that the code does
// not depend on which libc exposes getdents64() (glibc >= 2.30 only).
struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

int ListDirectory(const char* path, const ListOptions& options, Listing* out) {
  // open + getdents64 rather than opendir/readdir: glibc's opendir also
  // fstat()s the directory, one more syscall per directory of a walk.
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -errno;
  alignas(LinuxDirent64) char buffer[32 * 1024];
  int result = 0;
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      result = n < 0 ? -errno : 0;  // 0 at the end of the directory
      break;
    }
    for (long offset = 0; offset < n;) {
      const auto* entry = reinterpret_cast<const LinuxDirent64*>(buffer + offset);
      offset += entry->d_reclen;
      const char* name = entry->d_name;
      if (IsDotOrDotDot(name)) continue;
      char type = TypeCode(entry->d_type);
      if (entry->d_type == DT_UNKNOWN) {
        // statx, not fstatat: glibc has exported it since 2.28 (Node 20's
        // own floor), where fstatat as a symbol needs 2.33.
        struct statx st;
        if (statx(fd, name, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &st) == 0) {
          type = ModeCode(st.stx_mode);
        } else if (errno == ENOENT) {
          continue;  // removed since the read: as if read a moment later
        }
      }
      if (options.directories_only && type != kTypeDirectory && type != kTypeSymlink && type != kTypeUnknown) continue;
      size_t length = strlen(name);
      if (out->utf8 && !IsValidUtf8(name, length)) out->utf8 = false;
      out->names.append(name, length + 1);  // with its '\0'
      out->types.push_back(type);
    }
  }
  close(fd);
  if (result == 0 && options.sorted) SortListing(out);
  return result;
}

bool IsValidUtf8(const char* bytes, size_t length) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes);
  size_t i = 0;
  while (i < length) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t extra;
    unsigned int min;
    unsigned int code;
    if ((c & 0xE0) == 0xC0) {
      extra = 1, min = 0x80, code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, min = 0x800, code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, min = 0x10000, code = c & 0x07;
    } else {
      return false;  // a continuation byte first, or 0xF8..0xFF
    }
    if (length - i <= extra) return false;  // truncated sequence
    for (size_t k = 1; k <= extra; ++k) {
      unsigned char next = s[i + k];
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

}  // namespace inotify_native

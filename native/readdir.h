// Plain C++ directory listing for the recursive walk (open + getdents64). No N-API here: the
// binding in addon.cc turns the result (or -errno) into JS values.
#pragma once

#include <string>

namespace inotify_native {

// Type codes of a listing, one char per entry. Letters rather than d_type
// numbers so that no code is '\0', the separator of the names.
constexpr char kTypeDirectory = 'd';
constexpr char kTypeFile = 'f';
constexpr char kTypeSymlink = 'l';
constexpr char kTypeFifo = 'p';
constexpr char kTypeSocket = 's';
constexpr char kTypeCharDevice = 'c';
constexpr char kTypeBlockDevice = 'b';
constexpr char kTypeUnknown = '?';

// What to list. Sorted only when asked, because the recursive walk needs no
// order, while synthetic events list a directory's entries in name order
// (by bytes, strcmp, the order of libuv's scandir). `directories_only` keeps
// directories, symbolic links and entries of unknown type: all a walk that
// keeps no listing looks at, so the names of files are not copied to JS.
struct ListOptions {
  bool sorted = false;
  bool directories_only = false;
};

// One directory's entries (without "." and ".."), as ListOptions asks.
struct Listing {
  std::string names;  // each name followed by '\0'
  std::string types;  // one type code per name, in the same order
  bool utf8 = true;   // every name is valid UTF-8
};

// Reads the directory at `path` (NUL-terminated bytes) into `out`, which
// must be empty. Entries whose d_type is DT_UNKNOWN (some filesystems) are
// typed by lstat; one that vanished meanwhile is left out. Returns 0, or
// -errno from opening or reading the directory.
int ListDirectory(const char* path, const ListOptions& options, Listing* out);

// Whether `bytes` is well-formed UTF-8: no overlong forms, no surrogates,
// nothing above U+10FFFF (what Node's buffer.isUtf8 accepts).
bool IsValidUtf8(const char* bytes, size_t length);

}  // namespace inotify_native

// The one place an errno becomes a JS Error, in the shape of Node's fs errors:
//   ENOENT: no such file or directory, inotify_add_watch '/nope'
// with err.errno (negative, as libuv and fs report it), err.code, err.syscall
// and err.path. An optional hint is appended in parentheses.
#pragma once

#include <napi.h>

#include <string>

namespace inotify_native {

// The bytes of a path argument given as a string (UTF-8) or a Buffer (any
// bytes, for names that are not UTF-8). Arguments are checked in TS.
std::string PathBytes(Napi::Value path);

Napi::Error ErrnoError(Napi::Env env, int errnum, const char* syscall, Napi::Value path = Napi::Value(),
                       const char* hint = nullptr);

// Throws a TypeError with err.code (ERR_INVALID_ARG_TYPE, ...), as Node's own
// argument checks do. For calls that bypass the TS layer's checks.
void ThrowArgumentError(Napi::Env env, const char* code, const char* message);

}  // namespace inotify_native

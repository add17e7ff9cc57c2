#include "errors.h"

#include <string>
#include <uv.h>

namespace inotify_native {

std::string PathBytes(Napi::Value path) {
  if (path.IsBuffer()) {
    auto bytes = path.As<Napi::Buffer<char>>();
    return std::string(bytes.Data(), bytes.Length());
  }
  if (path.IsString()) return path.As<Napi::String>().Utf8Value();
  return std::string();
}

Napi::Error ErrnoError(Napi::Env env, int errnum, const char* syscall, Napi::Value path, const char* hint) {
  const char* code = uv_err_name(-errnum);
  std::string message = std::string(code) + ": " + uv_strerror(-errnum) + ", " + syscall;
  bool has_path = !path.IsEmpty() && (path.IsString() || path.IsBuffer());
  if (has_path) message += " '" + PathBytes(path) + "'";
  if (hint != nullptr) message += " (" + std::string(hint) + ")";

  Napi::Error error = Napi::Error::New(env, message);
  if (error.IsEmpty()) return error;  // JS cannot run (a terminating worker): nothing to decorate
  error.Set("errno", Napi::Number::New(env, -errnum));
  error.Set("code", Napi::String::New(env, code));
  error.Set("syscall", Napi::String::New(env, syscall));
  if (has_path) error.Set("path", path);
  return error;
}

void ThrowArgumentError(Napi::Env env, const char* code, const char* message) {
  Napi::TypeError error = Napi::TypeError::New(env, message);
  if (!error.IsEmpty()) error.Set("code", Napi::String::New(env, code));  // empty: JS cannot run any more
  error.ThrowAsJavaScriptException();
}

}  // namespace inotify_native

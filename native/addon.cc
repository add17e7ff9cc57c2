// Module entry: the Inotify class, the IN_* constants read from
// <sys/inotify.h>, the helpers (isOpenForWrite, readdir), and the
// per-environment cleanup hook.
#include <napi.h>
#include <sys/inotify.h>

#include <string>
#include <vector>

#include "addon-data.h"
#include "errors.h"
#include "inotify.h"
#include "readdir.h"
#include "watcher.h"

namespace inotify_native {

void AddonData::AddCleanupHook(napi_env env) {
  napi_add_async_cleanup_hook(env, &AddonData::OnEnvironmentCleanup, this, &cleanup_hook_);
}

void AddonData::OnEnvironmentCleanup(napi_async_cleanup_hook_handle /*handle*/, void* arg) {
  auto* data = static_cast<AddonData*>(arg);
  data->cleaning_up_ = true;
  // Shutdown() untracks, so iterate over a copy.
  std::vector<Watcher*> open(data->live_.begin(), data->live_.end());
  for (Watcher* watcher : open) watcher->Shutdown();
  data->FinishCleanupIfDone();
}

void AddonData::HandleClosed() {
  --closing_;
  FinishCleanupIfDone();
}

void AddonData::FinishCleanupIfDone() {
  if (!cleaning_up_ || closing_ != 0 || cleanup_hook_ == nullptr) return;
  // Lets the environment go on tearing down (and possibly unload this code).
  napi_remove_async_cleanup_hook(cleanup_hook_);
  cleanup_hook_ = nullptr;
}

namespace {

// Each value comes from the system header by name; nothing is retyped.
// One line per group of flags: the formatter would re-flow the macro.
// clang-format off
#define INOTIFY_CONSTANTS(X) \
  X(IN_ACCESS) X(IN_MODIFY) X(IN_ATTRIB) X(IN_CLOSE_WRITE) X(IN_CLOSE_NOWRITE) \
  X(IN_OPEN) X(IN_MOVED_FROM) X(IN_MOVED_TO) X(IN_CREATE) X(IN_DELETE) \
  X(IN_DELETE_SELF) X(IN_MOVE_SELF) X(IN_UNMOUNT) X(IN_Q_OVERFLOW) X(IN_IGNORED) \
  X(IN_ONLYDIR) X(IN_DONT_FOLLOW) X(IN_EXCL_UNLINK) X(IN_MASK_CREATE) X(IN_MASK_ADD) \
  X(IN_ISDIR) X(IN_ONESHOT) X(IN_CLOSE) X(IN_MOVE) X(IN_ALL_EVENTS) \
  X(IN_NONBLOCK) X(IN_CLOEXEC)
// clang-format on

Napi::Object Constants(Napi::Env env) {
  Napi::Object constants = Napi::Object::New(env);
#define DEFINE_CONSTANT(name) \
  constants.Set(#name, Napi::Number::New(env, static_cast<double>(static_cast<uint32_t>(name))));
  INOTIFY_CONSTANTS(DEFINE_CONSTANT)
#undef DEFINE_CONSTANT
  constants.Freeze();
  return constants;
}

// isOpenForWrite(path: string | Buffer): 1 | 0 | -errno (see inotify.h).
Napi::Value IsOpenForWriteJs(const Napi::CallbackInfo& info) {
  std::string bytes = PathBytes(info[0]);
  return Napi::Number::New(info.Env(), IsOpenForWrite(bytes.c_str()));
}

// readdir(path: string | Buffer, sorted: boolean, directoriesOnly: boolean):
// string | Buffer (see native.ts). The
// names are returned in one value, not one JS string per name, because the
// walk creates few objects per directory this way; invalid UTF-8 cannot go
// into a JS string without loss, so then the same bytes come as a Buffer.
Napi::Value ReaddirJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value path = info[0];
  // The TS layer validates; this only keeps a bad call from reaching opendir.
  if (!path.IsString() && !path.IsBuffer()) {
    ThrowArgumentError(env, "ERR_INVALID_ARG_TYPE",
                       "The \"path\" argument must be of type string or an instance of Buffer");
    return env.Undefined();
  }
  std::string bytes = PathBytes(path);
  if (bytes.empty() || bytes.find('\0') != std::string::npos) {
    ThrowArgumentError(env, "ERR_INVALID_ARG_VALUE", "The \"path\" argument must be non-empty and without null bytes");
    return env.Undefined();
  }
  Listing listing;
  ListOptions options;
  options.sorted = info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
  options.directories_only = info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
  int rc = ListDirectory(bytes.c_str(), options, &listing);
  if (rc < 0) {
    ErrnoError(env, -rc, "scandir", path).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  listing.names += listing.types;
  if (listing.utf8) return Napi::String::New(env, listing.names.data(), listing.names.size());
  return Napi::Buffer<char>::Copy(env, listing.names.data(), listing.names.size());
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);  // deleted by N-API when the environment goes away
  // Runs before the instance data is finalized, while watchers still exist.
  data->AddCleanupHook(env);

  exports.Set("Inotify", Watcher::DefineClass(env));
  exports.Set("isOpenForWrite", Napi::Function::New<IsOpenForWriteJs>(env, "isOpenForWrite"));
  exports.Set("readdir", Napi::Function::New<ReaddirJs>(env, "readdir"));
  exports.Set("constants", Constants(env));
  return exports;
}

}  // namespace inotify_native

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return inotify_native::Init(env, exports);
}

NODE_API_MODULE(inotify_native, InitModule)

#include "watcher.h"

#include <sys/inotify.h>

#include <string>

#include "addon-data.h"
#include "errors.h"
#include "inotify.h"

namespace inotify_native {

namespace {

// Large enough that a full default kernel queue (16384 events) drains in a
// few calls into JS; small enough to be cheap per instance.
constexpr size_t kBufferSize = 256 * 1024;

// Full buffers handed to JS per readable wake-up before yielding to the loop:
// 1 MiB, more than a full default queue (16384 records of up to 48 bytes).
constexpr int kMaxBatchesPerWakeup = 4;

const char* InitHint(int errnum) {
  if (errnum == EMFILE) {
    return "too many inotify instances: raise fs.inotify.max_user_instances, "
           "or the process's open file limit (ulimit -n)";
  }
  return nullptr;
}

const char* AddWatchHint(int errnum) {
  if (errnum == ENOSPC) {
    return "the inotify watch limit is reached: raise fs.inotify.max_user_watches, "
           "e.g. sysctl fs.inotify.max_user_watches=524288";
  }
  return nullptr;
}

}  // namespace

Napi::Function Watcher::DefineClass(Napi::Env env) {
  // The method table, one entry per line.
  // clang-format off
  return ObjectWrap<Watcher>::DefineClass(
      env, "Inotify",
      {
          InstanceMethod<&Watcher::AddWatch>("addWatch"),
          InstanceMethod<&Watcher::RemoveWatch>("rmWatch"),
          InstanceMethod<&Watcher::Close>("close"),
          InstanceMethod<&Watcher::Ref>("ref"),
          InstanceMethod<&Watcher::Unref>("unref"),
          InstanceMethod<&Watcher::HasRef>("hasRef"),
          InstanceAccessor<&Watcher::GetFd>("fd"),
          InstanceAccessor<&Watcher::GetBufferSize>("bufferSize"),
          InstanceMethod<&Watcher::ReadNow>("readSync"),
          InstanceAccessor<&Watcher::GetBuffer>("buffer"),
      });
  // clang-format on
}

Watcher::Watcher(const Napi::CallbackInfo& info) : ObjectWrap<Watcher>(info) {
  // napi_wrap fails once a worker's termination began; the wrapper then has
  // no reference (and no env), and any use of it would end the process
  // (FATAL ERROR: Error::New napi_get_last_error_info). JS never sees this
  // object: acquire nothing.
  if (IsEmpty()) return;
  Napi::Env env = info.Env();
  on_batch_ = Napi::Persistent(info[0].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "Inotify");

  // In a worker whose termination began, allocation fails and node-addon-api
  // hands back an empty value whose methods would end the process: test it
  // before use, and open nothing that would poll into no buffer.
  if (!AllocateBuffer(env)) return;

  int fd = OpenInstance();
  if (fd < 0) {
    ErrnoError(env, -fd, "inotify_init1", Napi::Value(), InitHint(-fd)).ThrowAsJavaScriptException();
    return;
  }

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  auto* poll = new uv_poll_t;
  int rc = uv_poll_init(loop, poll, fd);
  if (rc != 0) {
    delete poll;  // never registered with the loop
    CloseInstance(fd);
    ErrnoError(env, -rc, "uv_poll_init").ThrowAsJavaScriptException();
    return;
  }
  poll->data = this;
  rc = uv_poll_start(poll, UV_READABLE, &Watcher::OnReadable);
  if (rc != 0) {
    auto* addon = env.GetInstanceData<AddonData>();
    poll->data = addon;
    addon->HandleClosing();
    uv_close(reinterpret_cast<uv_handle_t*>(poll), &Watcher::OnClosed);
    CloseInstance(fd);
    ErrnoError(env, -rc, "uv_poll_start").ThrowAsJavaScriptException();
    return;
  }
  poll_ = poll;

  fd_ = fd;
  addon_ = env.GetInstanceData<AddonData>();
  addon_->Track(this);
  // Polling keeps the wrapper alive even when JS drops every reference to it.
  ObjectWrap<Watcher>::Ref();
  pinned_ = true;
}

Watcher::~Watcher() {
  // Finalizers run without a live pin (or at environment teardown, where the
  // reference is going away anyway): only the OS resources remain to release.
  pinned_ = false;
  Shutdown();
}

void Watcher::Shutdown() {
  if (fd_ < 0) return;
  uv_poll_stop(poll_);
  // From here on the handle belongs to libuv; its close callback reports to
  // the AddonData, which environment teardown waits for.
  poll_->data = addon_;
  addon_->HandleClosing();
  uv_close(reinterpret_cast<uv_handle_t*>(poll_), &Watcher::OnClosed);
  poll_ = nullptr;
  // uv_poll_stop removed the fd from epoll, so closing it now is safe and
  // releases it at once (no fd outlives close()).
  CloseInstance(fd_);
  fd_ = -1;
  if (addon_ != nullptr) {
    addon_->Untrack(this);
    addon_ = nullptr;
  }
  if (pinned_) {
    pinned_ = false;
    ObjectWrap<Watcher>::Unref();
  }
  // Drop the strong references into JS too: the callback's closure refers
  // back to this wrapper, so while they exist a closed instance (and its
  // buffer) could never be garbage collected. Nothing uses them once fd_ < 0.
  on_batch_.Reset();
  buffer_.Reset();
}

bool Watcher::AllocateBuffer(Napi::Env env) {
  Napi::ArrayBuffer storage = Napi::ArrayBuffer::New(env, kBufferSize);
  if (storage.IsEmpty()) return false;
  Napi::Uint8Array view = Napi::Uint8Array::New(env, kBufferSize, storage, 0);
  if (view.IsEmpty()) return false;
  auto* data = static_cast<uint8_t*>(storage.Data());
  if (data == nullptr) return false;
  bytes_ = data;
  capacity_ = kBufferSize;
  buffer_ = Napi::Persistent(view);
  return true;
}

// The buffer is a JS ArrayBuffer: JS may detach it (structuredClone or
// postMessage with a transfer list, ArrayBuffer.prototype.transfer), which
// frees or hands away its memory. Checked before every read into it; a
// detached one is replaced, so the kernel never writes into memory JS no
// longer owns here.
bool Watcher::EnsureBuffer(Napi::Env env) {
  if (buffer_.IsEmpty()) return false;
  napi_value view = buffer_.Value();
  napi_value storage = nullptr;
  if (napi_get_typedarray_info(env, view, nullptr, nullptr, nullptr, &storage, nullptr) != napi_ok) return false;
  bool detached = false;
  if (napi_is_detached_arraybuffer(env, storage, &detached) != napi_ok) return false;
  if (!detached) return true;
  bytes_ = nullptr;
  capacity_ = 0;
  return AllocateBuffer(env);
}

bool Watcher::ThrowIfClosed(Napi::Env env, const char* syscall, Napi::Value path) {
  if (fd_ >= 0) return false;
  ErrnoError(env, EBADF, syscall, path, "this Inotify instance is closed").ThrowAsJavaScriptException();
  return true;
}

Napi::Value Watcher::AddWatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value path = info[0];
  if (ThrowIfClosed(env, "inotify_add_watch", path)) return env.Undefined();
  uint32_t mask = info[1].As<Napi::Number>().Uint32Value();

  std::string bytes = PathBytes(path);
  int wd = inotify_native::AddWatch(fd_, bytes.c_str(), mask);
  if (wd < 0) {
    ErrnoError(env, -wd, "inotify_add_watch", path, AddWatchHint(-wd)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, wd);
}

Napi::Value Watcher::RemoveWatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ThrowIfClosed(env, "inotify_rm_watch")) return env.Undefined();
  int rc = inotify_native::RemoveWatch(fd_, info[0].As<Napi::Number>().Int32Value());
  if (rc < 0) ErrnoError(env, -rc, "inotify_rm_watch").ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value Watcher::Close(const Napi::CallbackInfo& info) {
  Shutdown();
  return info.Env().Undefined();
}

Napi::Value Watcher::Ref(const Napi::CallbackInfo& info) {
  // As on Node's own handles: a no-op once closed.
  if (fd_ >= 0) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  return info.Env().Undefined();
}

Napi::Value Watcher::Unref(const Napi::CallbackInfo& info) {
  if (fd_ >= 0) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  return info.Env().Undefined();
}

Napi::Value Watcher::HasRef(const Napi::CallbackInfo& info) {
  bool referenced = fd_ >= 0 && uv_has_ref(reinterpret_cast<uv_handle_t*>(poll_)) != 0;
  return Napi::Boolean::New(info.Env(), referenced);
}

Napi::Value Watcher::GetFd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), fd_);
}

Napi::Value Watcher::GetBufferSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(capacity_));
}

Napi::Value Watcher::GetBuffer(const Napi::CallbackInfo& /*info*/) {
  return buffer_.Value();
}

// Synchronous drain into the shared buffer, for callers that must see the
// queue at a precise moment (before and after their own directory scans).
// Returns the byte count; a full buffer means more may be queued.
Napi::Value Watcher::ReadNow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ThrowIfClosed(env, "read")) return env.Undefined();
  if (!EnsureBuffer(env)) {
    ErrnoError(env, ENOMEM, "read").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int errnum = 0;
  size_t length = ReadAvailable(fd_, bytes_, capacity_, 0, &errnum);
  if (errnum != 0) {
    ErrnoError(env, errnum, "read").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(length));
}

void Watcher::OnClosed(uv_handle_t* handle) {
  auto* addon = static_cast<AddonData*>(handle->data);
  delete reinterpret_cast<uv_poll_t*>(handle);
  addon->HandleClosed();
}

void Watcher::OnReadable(uv_poll_t* handle, int status, int /*events*/) {
  auto* self = static_cast<Watcher*>(handle->data);
  if (self == nullptr) return;
  if (status < 0) {
    self->Deliver(0, -status);
    return;
  }
  self->Drain();
}

void Watcher::Drain() {
  // Read until the kernel queue is empty; hand JS a batch whenever the
  // buffer cannot take one more record, and once at the end. At most
  // kMaxBatchesPerWakeup full buffers, then back to the loop: the poll is
  // level-triggered, so the rest is read on the next turn. Unbounded, a
  // producer that refills the queue while JS handles each batch kept this
  // loop going forever, and no timer or other I/O callback ever ran again.
  for (int batches = 0; batches < kMaxBatchesPerWakeup && fd_ >= 0; batches++) {
    {
      Napi::HandleScope scope(Env());
      if (!EnsureBuffer(Env())) {
        Deliver(0, ENOMEM);
        return;
      }
    }
    int errnum = 0;
    size_t length = ReadAvailable(fd_, bytes_, capacity_, 0, &errnum);
    bool full = capacity_ - length < kMinReadSpace;
    if (length > 0 || errnum != 0) Deliver(length, errnum);
    if (!full || errnum != 0) return;
  }
}

void Watcher::Deliver(size_t length, int errnum) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::Value error = env.Null();
  if (errnum != 0) error = ErrnoError(env, errnum, "read").Value();
  napi_value argv[] = {error, buffer_.Value(), Napi::Number::New(env, static_cast<double>(length))};
  napi_value result = nullptr;
  // The C call, not Napi::FunctionReference::MakeCallback: on failure that
  // wraps the exception in a Napi::Error, and when a worker is terminated
  // mid-callback the exception is V8's termination value, which cannot be
  // wrapped once JS is disallowed: node-addon-api then aborts the process
  // (FATAL ERROR: Error::Error napi_define_properties).
  napi_status status = napi_make_callback(env, *async_context_, Value(), on_batch_.Value(), 3, argv, &result);
  if (status != napi_ok) {
    // A listener that threw: report it as Node does for any callback from the
    // loop (uncaughtException), never swallow it, never abort. While the
    // environment is being torn down napi_fatal_exception declines (JS cannot
    // run) and the status is ignored on purpose.
    napi_value thrown = nullptr;
    if (napi_get_and_clear_last_exception(env, &thrown) == napi_ok) napi_fatal_exception(env, thrown);
  }
}

}  // namespace inotify_native

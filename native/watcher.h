// The ObjectWrap around one inotify instance: its fd, a uv_poll_t on the
// environment's own loop, and one reusable buffer that each readable wake-up
// drains into before making ONE call into JS with the byte count.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <memory>

namespace inotify_native {

class AddonData;

class Watcher : public Napi::ObjectWrap<Watcher> {
 public:
  static Napi::Function DefineClass(Napi::Env env);

  // JS: new Inotify(onBatch(error, bytes: Uint8Array, length: number))
  explicit Watcher(const Napi::CallbackInfo& info);
  ~Watcher() override;

  // Stops polling and closes the fd without calling into JS. Idempotent.
  void Shutdown();

 private:
  Napi::Value AddWatch(const Napi::CallbackInfo& info);
  Napi::Value RemoveWatch(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value HasRef(const Napi::CallbackInfo& info);
  Napi::Value GetFd(const Napi::CallbackInfo& info);
  Napi::Value GetBufferSize(const Napi::CallbackInfo& info);
  Napi::Value ReadNow(const Napi::CallbackInfo& info);
  Napi::Value GetBuffer(const Napi::CallbackInfo& info);

  static void OnReadable(uv_poll_t* handle, int status, int events);
  // uv_close callback: frees the handle and tells the AddonData (handle->data).
  static void OnClosed(uv_handle_t* handle);
  void Drain();
  void Deliver(size_t length, int errnum);
  bool AllocateBuffer(Napi::Env env);
  bool EnsureBuffer(Napi::Env env);
  bool ThrowIfClosed(Napi::Env env, const char* syscall, Napi::Value path = Napi::Value());

  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;  // owned by libuv from uv_close until its close callback
  bool pinned_ = false;
  AddonData* addon_ = nullptr;
  uint8_t* bytes_ = nullptr;  // storage of buffer_, kept alive by the reference
  size_t capacity_ = 0;
  Napi::Reference<Napi::Uint8Array> buffer_;
  Napi::FunctionReference on_batch_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
};

}  // namespace inotify_native

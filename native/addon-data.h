// Per-environment state (one per main thread or worker): the live watchers,
// so that an environment's teardown closes every fd and poll handle it owns.
#pragma once

#include <napi.h>

#include <unordered_set>

namespace inotify_native {

class Watcher;

class AddonData {
 public:
  void Track(Watcher* watcher) { live_.insert(watcher); }
  void Untrack(Watcher* watcher) { live_.erase(watcher); }

  // Registers OnEnvironmentCleanup as an *async* cleanup hook: closing a
  // uv handle finishes in a later loop turn, and the environment (with this
  // addon's code, when nothing else loaded it) must outlive that turn.
  void AddCleanupHook(napi_env env);

  // Every uv_close of a poll handle is counted; its close callback must
  // report back, so teardown can wait until none is pending.
  void HandleClosing() { ++closing_; }
  void HandleClosed();

 private:
  static void OnEnvironmentCleanup(napi_async_cleanup_hook_handle handle, void* arg);
  void FinishCleanupIfDone();

  std::unordered_set<Watcher*> live_;
  size_t closing_ = 0;
  napi_async_cleanup_hook_handle cleanup_hook_ = nullptr;
  bool cleaning_up_ = false;
};

}  // namespace inotify_native

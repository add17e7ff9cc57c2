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
  // Environment cleanup hook: shut down whatever is still open.
  void ShutdownAll();

 private:
  std::unordered_set<Watcher*> live_;
};

}  // namespace inotify_native

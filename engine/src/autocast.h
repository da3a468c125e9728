// autocast.h — mixed precision for one scope: sets libtorch's autocast
// state of a device type and restores the previous state on exit, so a
// forward (or its recomputation in backward) runs under the state its
// caller chose and nothing leaks past it.
#pragma once

#include <ATen/autocast_mode.h>

namespace cocoedit {

class AutocastScope {
 public:
  AutocastScope(at::DeviceType type, bool enabled, at::ScalarType dtype = at::kBFloat16)
      : type_(type), was_enabled_(at::autocast::is_autocast_enabled(type)),
        was_dtype_(at::autocast::get_autocast_dtype(type)) {
    at::autocast::set_autocast_enabled(type, enabled);
    at::autocast::set_autocast_dtype(type, dtype);
  }
  ~AutocastScope() {
    at::autocast::set_autocast_enabled(type_, was_enabled_);
    at::autocast::set_autocast_dtype(type_, was_dtype_);
    // Casts cached inside the scope belong to it (weights change each step).
    if (!was_enabled_) at::autocast::clear_cache();
  }
  AutocastScope(const AutocastScope &) = delete;
  AutocastScope &operator=(const AutocastScope &) = delete;

 private:
  at::DeviceType type_;
  bool was_enabled_;
  at::ScalarType was_dtype_;
};

}  // namespace cocoedit

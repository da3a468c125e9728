// error.h — the C++ core's one exception type; the C API turns it into a
// cocoedit_status and message (see cocoedit.cpp).
#pragma once

#include <stdexcept>
#include <string>

#include "cocoedit.h"

namespace cocoedit {

class Error : public std::runtime_error {
 public:
  Error(cocoedit_status code, const std::string &message)
      : std::runtime_error(message), code_(code) {}
  cocoedit_status code() const { return code_; }

 private:
  cocoedit_status code_;
};

[[noreturn]] inline void fail(cocoedit_status code, const std::string &message) {
  throw Error(code, message);
}

}  // namespace cocoedit

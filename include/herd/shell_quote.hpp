// POSIX shell quoting: a value becomes exactly one word, whatever it contains.
#pragma once

#include <string>
#include <string_view>

namespace herd {

/// Quote `value` for /bin/sh: 'abc' stays abc when it is plainly safe, otherwise it is wrapped in
/// single quotes with each ' written as '\''.
std::string shell_quote(std::string_view value);

}  // namespace herd

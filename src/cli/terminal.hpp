// The local terminal for `herd shell`: raw mode that is always undone, and its size.
#pragma once

#include <termios.h>

#include <optional>

namespace herd::cli {

/// Puts a terminal in raw mode for its lifetime. Restores the saved mode in the destructor and
/// from restore(), which the signal path also calls; safe to call more than once.
class RawTerminal {
 public:
  explicit RawTerminal(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

  /// True when `fd` is a terminal and raw mode is on.
  bool active() const { return saved_.has_value(); }
  void restore();

 private:
  int fd_;
  std::optional<termios> saved_;
};

struct TerminalSize {
  int cols = 80;
  int rows = 24;
};

/// The size of the terminal on `fd`, or 80x24 when it is not one.
TerminalSize terminal_size(int fd);

}  // namespace herd::cli

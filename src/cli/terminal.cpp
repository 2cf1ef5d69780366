#include "cli/terminal.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

namespace herd::cli {

RawTerminal::RawTerminal(int fd) : fd_(fd) {
  termios t{};
  if (::isatty(fd) == 0 || ::tcgetattr(fd, &t) != 0) return;
  saved_ = t;
  ::cfmakeraw(&t);
  if (::tcsetattr(fd, TCSADRAIN, &t) != 0) saved_.reset();
}

RawTerminal::~RawTerminal() {
  restore();
}

void RawTerminal::restore() {
  if (saved_) {
    ::tcsetattr(fd_, TCSADRAIN, &*saved_);
    saved_.reset();
  }
}

TerminalSize terminal_size(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
    return {ws.ws_col, ws.ws_row};
  }
  return {};
}

}  // namespace herd::cli

// A session channel: env / pty-req / exec / signal requests, the child's pipes pumped into the
// channel within the client's window, stdin from channel data, then exit-status, EOF and close.
#pragma once

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "child.hpp"
#include "loop.hpp"

namespace herd::sim {

class Session;

class Channel {
 public:
  Channel(Session& session, ssh_channel channel);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  /// Move output into the channel as far as the window allows; finish once the command is done.
  void service();
  /// Kill the child's process group (its reaping is left to the Reaper) and stop watching pipes.
  void kill_child();
  /// libssh no longer refers to us: the channel is closed and freed (or handed over to be).
  bool released() const { return channel_ == nullptr; }

 private:
  struct Stream {
    int fd = -1;
    std::string pending;  // read from the pipe, not yet accepted by the channel window
    bool eof = false;
    bool is_stderr = false;
  };

  static int on_data(ssh_session, ssh_channel, void* data, std::uint32_t len, int is_stderr, void* self);
  static void on_eof(ssh_session, ssh_channel, void* self);
  static void on_close(ssh_session, ssh_channel, void* self);
  static void on_signal(ssh_session, ssh_channel, const char* signal, void* self);
  static int on_pty(ssh_session, ssh_channel, const char* term, int w, int h, int pw, int ph, void* self);
  static int on_exec(ssh_session, ssh_channel, const char* command, void* self);
  static int on_env(ssh_session, ssh_channel, const char* name, const char* value, void* self);

  bool pump_stream(Stream& s);  // false: stop pumping this round (paused, dropped, error)
  void watch_stream(Stream& s);
  void close_stream(Stream& s);
  void write_stdin();
  void close_stdin();
  void on_child_exit();
  void finish();
  void release();

  Session& session_;
  ssh_channel channel_;
  ssh_channel_callbacks_struct callbacks_{};
  std::map<std::string, std::string> env_;
  std::optional<ChildProcess> child_;
  bool child_exited_ = false;
  int wait_status_ = 0;
  std::optional<Loop::TimerId> poll_timer_;  // waitpid polling when pidfd_open is unavailable
  Stream out_, err_;
  std::string stdin_buffer_;
  bool stdin_eof_ = false;
  bool remote_closed_ = false;
  std::uint64_t huge_left_ = 0;
  bool paused_ = false;  // `slow`: waiting before the next chunk
  std::optional<Loop::TimerId> slow_timer_;
};

}  // namespace herd::sim

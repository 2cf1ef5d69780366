#include "tasks/sudo.hpp"

#include <fmt/format.h>

#include "herd/shell_quote.hpp"

namespace herd::tasks {

const char* const kSudoPrompt = "[herd-sudo-password]";

namespace {
constexpr std::size_t kHoldBytes = 4096;  // stderr held back while sudo may still refuse
}

std::string SudoOutcome::why() const {
  if (refused) return "sudo refused the password";
  if (needs_password) {
    return "sudo needs a password (give --sudo-password-env, --sudo-askpass or -K)";
  }
  return {};
}

std::string sudo_command(const std::string& user, const std::string& inner, bool with_password,
                         bool tty) {
  const std::string as = fmt::format("-u {} -- sh -c {}", shell_quote(user), shell_quote(inner));
  if (!with_password) return fmt::format("sudo -n {}", as);
  if (tty) return fmt::format("sudo -p {} {}", shell_quote(kSudoPrompt), as);
  return fmt::format("IFS= read -r herd_pw; printf '%s\\n' \"$herd_pw\" | sudo -S -p {} {}",
                     shell_quote(kSudoPrompt), as);
}

Flow<Result<SudoOutcome>> run_sudo(Session& session, std::string user, std::string inner,
                                   std::optional<std::string> password,
                                   std::optional<std::chrono::milliseconds> timeout,
                                   ExecSink sink) {
  const bool with_password = password.has_value();
  SudoOutcome out;
  // First without a PTY. sudo's stderr is held back until the command shows it is running
  // (stdout, or more than a refusal would say): a "must have a tty" refusal, which sudo gives
  // before running anything, is then replaced by the PTY run.
  std::string held;
  std::string seen_err;
  bool holding = true;
  auto release = [&sink, &held, &holding] {
    holding = false;
    if (!held.empty() && sink.on_stderr) sink.on_stderr(held);
    held.clear();
  };
  ExecSink first{[&sink, &release](std::string_view d) {
                   release();
                   if (sink.on_stdout) sink.on_stdout(d);
                 },
                 [&sink, &seen_err, &held, &holding, &release](std::string_view d) {
                   if (seen_err.size() < kHoldBytes) seen_err.append(d);
                   if (holding) {
                     held.append(d);
                     if (held.size() > kHoldBytes) release();
                     return;
                   }
                   if (sink.on_stderr) sink.on_stderr(d);
                 }};
  ExecRequest req;
  req.command = sudo_command(user, inner, with_password, false);
  if (with_password) req.stdin_data = *password + "\n";
  req.answer_prompt = ExecRequest::PromptAnswer{kSudoPrompt, ""};
  req.timeout = timeout;
  auto ran = co_await session.exec_async(std::move(req), std::move(first));
  if (!ran) co_return std::unexpected(ran.error());
  const bool needs_tty =
      !ran->ok() && (seen_err.find("must have a tty") != std::string::npos ||
                     seen_err.find("a terminal is required") != std::string::npos);
  if (!needs_tty) {
    release();
    out.exec = *ran;
    out.refused = ran->prompts >= 2;
    out.needs_password =
        !with_password && seen_err.find("a password is required") != std::string::npos;
    co_return out;
  }
  ExecRequest tty;
  tty.command = sudo_command(user, inner, with_password, true);
  tty.pty = PtyOptions{};
  tty.timeout = timeout;
  tty.answer_prompt = ExecRequest::PromptAnswer{kSudoPrompt, with_password ? *password + "\n" : ""};
  auto again = co_await session.exec_async(std::move(tty), std::move(sink));
  if (!again) co_return std::unexpected(again.error());
  out.exec = *again;
  out.on_tty = true;
  out.refused = again->prompts >= 2;
  out.needs_password = !with_password && again->prompts >= 1;
  co_return out;
}

}  // namespace herd::tasks

// The files herd-sim writes for its clients into --dir.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "worker.hpp"

namespace herd::sim {

/// Writes ssh_config, known_hosts (`host_key_line` is "ssh-ed25519 AAAA..."), inventory.ini and
/// faults.json. Throws std::runtime_error on I/O failure.
void write_client_files(const std::filesystem::path& dir, const std::vector<Host>& hosts,
                        const std::string& user, const std::string& host_key_line);

/// Creates the empty `ready` file (last, once every listener is up).
void write_ready(const std::filesystem::path& dir);

}  // namespace herd::sim

// Parsed files shared by every session of a process: ssh_config and known_hosts.
//
// A fleet run resolves thousands of targets against the same ssh_config and checks them
// against the same known_hosts; parsing each file once per host made the run quadratic (2000
// hosts with a 2000-block ssh_config: about 25 ms of CPU per host). A file is parsed again
// only when its identity (device, inode, size, modification time in ns) changes, which is
// also what happens when herd records a new host key (atomic rename). Files a config pulls in
// with `Include` are not watched: a change to one only shows once the top file changes or a
// new process starts.
#pragma once

#include <filesystem>
#include <memory>

#include "herd/known_hosts.hpp"
#include "herd/ssh_config.hpp"

namespace herd::ssh {

/// SshConfig::load(file), shared while the file is unchanged.
Result<std::shared_ptr<const SshConfig>> cached_ssh_config(const std::filesystem::path& file);

/// KnownHosts::load(file), shared while the file is unchanged.
Result<std::shared_ptr<const KnownHosts>> cached_known_hosts(const std::filesystem::path& file);

}  // namespace herd::ssh

// `herd sync --pull --manifest NAME`: one host's pull of a published release (pull.cpp).
#pragma once

#include <string>

#include "cli/commands.hpp"
#include "herd/engine.hpp"
#include "herd/transfer.hpp"

namespace herd::cli {

/// Fetch what changed in REMOTEDIR/NAME's manifest since the last pull into LOCALDIR's host
/// directory, and record the new state there.
Flow<Result<void>> pull_host(const TransferCliOptions& o, std::string manifest_name,
                             std::string local, std::string remote_dir, std::string host,
                             TransferSettings settings, bool dry_run, bool remove_extra,
                             Session& session, HostResult& result, const HostOutput& output);

}  // namespace herd::cli

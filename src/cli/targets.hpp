// From a host pattern (and an inventory) to the engine's list of HostTargets.
#pragma once

#include <string>
#include <vector>

#include "cli/common_options.hpp"
#include "herd/engine.hpp"

namespace herd::cli {

/// Expand `pattern` minus every `excludes` pattern into host names, in order.
/// Throws std::invalid_argument (one line) for a bad pattern.
std::vector<std::string> expand_hosts(const std::string& pattern,
                                      const std::vector<std::string>& excludes);

/// The shortest pattern naming `hosts` (e.g. web[01-05,07]).
std::string fold_hosts(const std::vector<std::string>& hosts);

/// One HostTarget per name, with the common options applied.
Result<std::vector<HostTarget>> build_targets(const std::vector<std::string>& names,
                                              const CommonOptions& common);

}  // namespace herd::cli

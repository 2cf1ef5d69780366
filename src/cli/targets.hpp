// From a host pattern (and an inventory) to the engine's list of HostTargets.
//
// A run's hosts are a NodeSet pattern (`web[01-20]`, `@group`, `a,b!c`) minus `-x` patterns.
// Groups come from the inventory: `--inventory FILE` (or an `-i FILE` that is not a private
// key, as with Ansible), else $HERD_INVENTORY, else ./herd.ini when it exists. A host the
// inventory knows gets its address, port, user, keys, jump hosts and password from it; command
// line flags beat the inventory, which beats ssh_config.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/common_options.hpp"
#include "herd/engine.hpp"
#include "herd/inventory.hpp"
#include "herd/nodeset.hpp"

namespace herd::cli {

/// Move `-i` values that are not private keys into `o.inventory` (Ansible's `-i`), then load
/// the run's inventory (see above). nullopt when there is none; a bad or second inventory is a
/// bad_config Error with the one-line reason (`FILE:LINE: reason`).
Result<std::optional<Inventory>> load_inventory(CommonOptions& o);

/// Resolves `@group` from `inventory` (nullptr: no group exists).
GroupResolver group_resolver(const Inventory* inventory);

/// Expand `pattern` minus every `excludes` pattern into host names, in natural order.
/// Throws PatternError (one line) for a bad pattern, an unknown group or no host at all.
std::vector<std::string> expand_hosts(const std::string& pattern,
                                      const std::vector<std::string>& excludes,
                                      const Inventory* inventory);

/// The shortest pattern naming `hosts` (e.g. web[01-05,07]).
std::string fold_hosts(const std::vector<std::string>& hosts);

/// Session options for host `name`: the common options, then what the inventory says of it.
Result<SessionOptions> host_options(const CommonOptions& common, const std::string& name,
                                    const Inventory* inventory);

/// One HostTarget per name (see host_options).
Result<std::vector<HostTarget>> build_targets(const std::vector<std::string>& names,
                                              const CommonOptions& common,
                                              const Inventory* inventory);

}  // namespace herd::cli

// The local account: name and home directory (for defaults such as ~/.ssh/known_hosts).
#pragma once

#include <filesystem>
#include <string>

namespace herd::ssh {

/// The effective user's login name.
std::string local_user_name();
/// $HOME, else the passwd entry's home directory.
std::filesystem::path home_dir();

}  // namespace herd::ssh

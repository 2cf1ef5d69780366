#include "ssh/local_user.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace herd::ssh {

std::string local_user_name() {
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr) return pw->pw_name;
  if (const char* u = std::getenv("USER"); u != nullptr) return u;
  return "root";
}

std::filesystem::path home_dir() {
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') return h;
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr) return pw->pw_dir;
  return "/";
}

}  // namespace herd::ssh

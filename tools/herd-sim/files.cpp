#include "files.hpp"

#include <fmt/format.h>

#include <fstream>
#include <stdexcept>

namespace herd::sim {
namespace {

// Written under a temporary name and renamed, so a reader never sees half a file.
void write_file(const std::filesystem::path& path, const std::string& text) {
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error(fmt::format("cannot write {}", tmp.string()));
  }
  std::filesystem::rename(tmp, path);
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

void write_client_files(const std::filesystem::path& dir, const std::vector<Host>& hosts,
                        const std::string& user, const std::string& host_key_line) {
  auto known_hosts = std::filesystem::absolute(dir / "known_hosts");
  std::string config = "# Written by herd-sim: one block per simulated host.\n";
  std::string kh;
  std::string inventory = "# Written by herd-sim.\n[sim]\n";
  std::string faults = "{";
  bool first_fault = true;
  for (const auto& h : hosts) {
    config += fmt::format(
        "\nHost {}\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  UserKnownHostsFile {}\n"
        "  StrictHostKeyChecking yes\n",
        h.name, h.listener.port, user, known_hosts.string());
    kh += fmt::format("[127.0.0.1]:{} {}\n", h.listener.port, host_key_line);
    inventory += fmt::format("{} ansible_host=127.0.0.1 ansible_port={}\n", h.name, h.listener.port);
    if (h.fault != Fault::none) {
      faults += fmt::format("{}\n  {}: {}", first_fault ? "" : ",", json_string(h.name),
                            json_string(std::string(fault_name(h.fault))));
      first_fault = false;
    }
  }
  faults += first_fault ? "}\n" : "\n}\n";
  write_file(dir / "ssh_config", config);
  write_file(known_hosts, kh);
  write_file(dir / "inventory.ini", inventory);
  write_file(dir / "faults.json", faults);
}

void write_ready(const std::filesystem::path& dir) { write_file(dir / "ready", ""); }

}  // namespace herd::sim

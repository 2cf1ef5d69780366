#include "tasks/files.hpp"

#include <fmt/format.h>

#include "herd/sftp.hpp"

namespace herd::tasks {

std::string upload_name(const std::filesystem::path& local, const std::string& remote, bool many) {
  if (!remote.empty() && remote.back() == '/') return remote + local.filename().string();
  if (many) return remote + "/" + local.filename().string();
  return remote;
}

Flow<Result<TransferReport>> put_files(Session& session,
                                       std::vector<std::shared_ptr<LocalSource>> sources,
                                       std::string remote) {
  auto opened = co_await SftpClient::open_async(session);
  if (!opened) co_return std::unexpected(opened.error());
  std::vector<UploadItem> items;
  const bool many = sources.size() > 1;
  for (auto& s : sources) {
    std::string name = upload_name(s->path(), remote, many);
    items.push_back(UploadItem{std::move(s), std::move(name)});
  }
  auto flow = upload(session, *opened, std::move(items), TransferSettings{});
  auto report = co_await std::move(flow);
  co_return report;
}

Flow<Result<TransferReport>> get_files(Session& session, std::vector<DownloadItem> items) {
  for (const auto& it : items) {
    std::error_code ec;
    std::filesystem::create_directories(it.local.parent_path(), ec);
    if (ec) {
      co_return fail(
          Errc::local_io, Phase::transfer, "",
          fmt::format("{}: cannot create it: {}", it.local.parent_path().string(), ec.message()));
    }
  }
  auto opened = co_await SftpClient::open_async(session);
  if (!opened) co_return std::unexpected(opened.error());
  auto flow = download(session, *opened, std::move(items), TransferSettings{});
  auto report = co_await std::move(flow);
  co_return report;
}

std::string first_failure(const TransferReport& report) {
  if (report.fatal) return report.fatal->message;
  for (const auto& f : report.files) {
    if (!f.ok) return f.error ? f.error->message : f.path + ": failed";
  }
  return {};
}

}  // namespace herd::tasks

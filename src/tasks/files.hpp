// File steps on one host: upload local files, download remote ones, verified and atomic
// (transfer.hpp). Used by task put/get steps and by herd::Group::put / get.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "herd/flow.hpp"
#include "herd/session.hpp"
#include "herd/transfer.hpp"

namespace herd::tasks {

/// The remote path of an upload: `remote`, or `remote` + the file's name when `remote` ends in
/// '/' (or when several files go to one place).
std::string upload_name(const std::filesystem::path& local, const std::string& remote, bool many);

/// Upload `sources` to `remote` over a new SFTP channel of `session`. The report says how each
/// file went; an Error only when SFTP cannot start.
Flow<Result<TransferReport>> put_files(Session& session,
                                       std::vector<std::shared_ptr<LocalSource>> sources,
                                       std::string remote);

/// Download `items` (each local parent directory is made if missing).
Flow<Result<TransferReport>> get_files(Session& session, std::vector<DownloadItem> items);

/// The first failure of a report, one line; empty when every file went through.
std::string first_failure(const TransferReport& report);

}  // namespace herd::tasks

// Pipelined READ / WRITE loops over an open handle: the core of every transfer.
//
// Both keep up to SftpOptions::window_bytes of requests in flight, each request_bytes long, and
// take replies oldest first, refilling the window as each one completes. Data reaches the sink
// (downloads) in offset order, so it can be hashed as it arrives; a short read is re-requested
// for its remainder before anything after it is delivered. Uploads read the source straight
// into the WRITE packet and queue a new request only when the previous one has left, so memory
// is about one request plus what the kernel buffers, however large the window.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "sftp/client_impl.hpp"

namespace herd::sftp {

/// Receives downloaded data in order: (offset, bytes). An error stops the transfer.
using DataSink = std::function<Result<void>(std::uint64_t offset, std::string_view data)>;
/// Fills `dst` with up to `n` bytes at `offset`; 0 at the end. An error stops the transfer.
using DataSource = std::function<Result<std::size_t>(std::uint64_t offset, char* dst,
                                                     std::size_t n)>;

/// Read `handle` from `offset` into `sink`: `limit` bytes at most, else to EOF. `size_hint`
/// (the file's size, when known) keeps small files from asking for a window's worth of reads.
/// Returns the bytes read.
Flow<Result<std::uint64_t>> read_all(SftpClient::Impl& c, std::string handle, std::string path,
                                     std::uint64_t offset, std::optional<std::uint64_t> limit,
                                     std::optional<std::uint64_t> size_hint, DataSink sink,
                                     ProgressFn progress);

/// Write everything `source` gives, from `offset`, to `handle`. Returns the bytes written.
Flow<Result<std::uint64_t>> write_all(SftpClient::Impl& c, std::string handle, std::string path,
                                      std::uint64_t offset, std::optional<std::uint64_t> size_hint,
                                      DataSource source, ProgressFn progress);

}  // namespace herd::sftp

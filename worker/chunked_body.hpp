// Chunked response bodies with trailers, for the task routes whose length is not known when
// their head is written: a streamed job's output and a followed job's output. Owns the
// chunk framing and the trailers that say how a job ended; leaves the bytes to the sources.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "net/byte_buffer.hpp"
#include "net/http_response.hpp"

namespace ringfork::worker {

/// How a job ended, as trailers say it.
struct job_trailers {
    int exit_code = -1;
    int signal = 0;
    std::uint64_t elapsed_ms = 0;
    bool timed_out = false;
    std::string_view error; ///< Why it failed (the runner died, over the cap, ...); empty if it did not.
};

/// The trailer names a chunked task body may end with, for the Trailer header.
inline constexpr std::string_view job_trailer_names = "X-Task-Exit-Code, X-Task-Signal, X-Task-Elapsed-Ms, "
                                                      "X-Task-Timed-Out, X-Task-Error";

/// Ends a head whose body follows in chunks: Transfer-Encoding, Trailer, Connection.
void finish_chunked_head(http::response_writer& w);
/// One chunk of `bytes` (nothing for none: an empty chunk would end the body).
void append_chunk(net::byte_buffer& out, std::span<const char> bytes);
/// The last chunk and the trailers: X-Task-Exit-Code or X-Task-Signal, X-Task-Elapsed-Ms,
/// X-Task-Timed-Out: 1 when it timed out, X-Task-Error when it failed. Control bytes in the
/// error text are replaced, so no trailer can carry a CR or LF.
void append_last_chunk(net::byte_buffer& out, const job_trailers& t);

} // namespace ringfork::worker

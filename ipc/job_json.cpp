// A job's state as JSON.
#include "ipc/job_json.hpp"

#include <fmt/format.h>

#include "ipc/json_text.hpp"

namespace ringfork::ipc {

std::string job_state_json(std::string_view id, const job_state_record& r, std::uint64_t now_unix_ms)
{
    std::string out = fmt::format(R"({{"id":"{}","task":"{}","state":"{}")", json_text(id), json_text(text_of(r.task)),
                                  state_name(r.state));
    if (ended(r.state)) {
        if (r.signal != 0)
            out += fmt::format(R"(,"signal":{})", r.signal);
        else
            out += fmt::format(R"(,"exit_code":{})", r.exit_code);
    }
    const std::uint64_t elapsed = r.state == job_state::running && r.started_unix_ms != 0 && now_unix_ms > r.started_unix_ms
                                      ? now_unix_ms - r.started_unix_ms
                                      : r.elapsed_ms;
    out += fmt::format(R"(,"elapsed_ms":{},"output_bytes":{})", elapsed, r.output_bytes);
    if (r.runner_pid != 0 && r.state == job_state::running)
        out += fmt::format(R"(,"runner_pid":{})", r.runner_pid);
    if (r.progress[0] != '\0')
        out += fmt::format(R"(,"progress":"{}")", json_text(text_of(r.progress)));
    if (r.reason[0] != '\0')
        out += fmt::format(R"(,"reason":"{}")", json_text(text_of(r.reason)));
    out += "}\n";
    return out;
}

} // namespace ringfork::ipc

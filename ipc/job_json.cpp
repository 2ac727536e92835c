// A job's state as JSON.
#include "ipc/job_json.hpp"

#include <fmt/format.h>

namespace ringfork::ipc {

namespace {

/// Length of the valid UTF-8 sequence starting at s[i], or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) noexcept
{
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    std::size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) {
        n = 2;
        min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3;
        min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (i + n > s.size())
        return 0;
    unsigned cp = c & (0x7f >> n);
    for (std::size_t k = 1; k < n; ++k) {
        if ((b(i + k) & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (b(i + k) & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

} // namespace

std::string json_text(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const char c = text[i];
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            out += fmt::format("\\u{:04x}", u);
        } else if (u >= 0x80) {
            const std::size_t n = utf8_length(text, i);
            if (n == 0) {
                out += "\\ufffd";
                ++i;
                continue;
            }
            out.append(text.substr(i, n));
            i += n;
            continue;
        } else {
            out += c;
        }
        ++i;
    }
    return out;
}

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

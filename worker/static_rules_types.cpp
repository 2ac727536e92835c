// Content types for static files (RFC 9110 §8.3): the built-in web types, the rest from
// /etc/mime.types, and a UTF-8 charset for text formats. The other static-file rules are in
// static_rules.cpp.
#include "worker/static_rules.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>

#include "net/ascii.hpp"

namespace ringfork::worker::static_rules {
namespace {

using net::ascii_lower;

struct builtin_type {
    std::string_view ext, type;
};

// The common web types; these win over /etc/mime.types, whose choices vary by distribution.
constexpr builtin_type builtin_types[] = {
    {"html", "text/html"},
    {"htm", "text/html"},
    {"css", "text/css"},
    {"js", "text/javascript"}, // RFC 9239
    {"mjs", "text/javascript"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"txt", "text/plain"},
    {"xml", "application/xml"},
    {"csv", "text/csv"},
    {"md", "text/markdown"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/x-icon"},
    {"bmp", "image/bmp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"br", "application/x-brotli"},
    {"wasm", "application/wasm"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"ogv", "video/ogg"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"oga", "audio/ogg"},
    {"opus", "audio/ogg"},
    {"wav", "audio/wav"},
    {"flac", "audio/flac"},
    {"m4a", "audio/mp4"},
    {"manifest", "application/manifest+json"},
    {"webmanifest", "application/manifest+json"},
    {"xhtml", "application/xhtml+xml"},
    {"jsonld", "application/ld+json"},
};

constexpr std::string_view octet_stream = "application/octet-stream";
constexpr std::size_t max_ext = 31; // Longer extensions are unknown; lookups lower-case into a stack buffer.

// Text formats whose body a browser decodes by charset; UTF-8 is what the server assumes of its files.
bool wants_charset(std::string_view type) noexcept
{
    constexpr std::string_view textual[] = {
        "application/javascript", "application/json",      "image/svg+xml",        "application/xml",
        "application/manifest+json", "application/xhtml+xml", "application/ld+json",
    };
    return type.starts_with("text/") || std::find(std::begin(textual), std::end(textual), type) != std::end(textual);
}

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
    return out;
}

const mime_table& process_table()
{
    static const mime_table table = [] {
        std::ifstream in("/etc/mime.types", std::ios::binary);
        const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        return mime_table(text);
    }();
    return table;
}

} // namespace

mime_table::mime_table(std::string_view mime_types_text)
{
    for (const auto& b : builtin_types)
        add(b.ext, b.type);
    // mime.types: "type ext ext ..." per line, '#' starts a comment.
    while (!mime_types_text.empty()) {
        const std::size_t eol = std::min(mime_types_text.find('\n'), mime_types_text.size());
        std::string_view line = mime_types_text.substr(0, eol);
        mime_types_text.remove_prefix(std::min(eol + 1, mime_types_text.size()));
        line = line.substr(0, line.find('#'));
        std::string_view type;
        for (;;) {
            const std::size_t start = line.find_first_not_of(" \t\r\f\v");
            if (start == std::string_view::npos)
                break;
            line.remove_prefix(start);
            const std::size_t end = std::min(line.find_first_of(" \t\r\f\v"), line.size());
            const std::string_view word = line.substr(0, end);
            line.remove_prefix(end);
            if (type.empty()) {
                if (word.find('/') == std::string_view::npos)
                    break;
                type = word;
            } else if (word.size() <= max_ext) {
                add(word, type);
            }
        }
    }
    // Stable sort then unique keeps each extension's first entry: built-ins win.
    std::stable_sort(entries_.begin(), entries_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    entries_.erase(std::unique(entries_.begin(), entries_.end(),
                               [](const auto& a, const auto& b) { return a.first == b.first; }),
                   entries_.end());
}

void mime_table::add(std::string_view ext, std::string_view type)
{
    std::string value = lower(type);
    if (wants_charset(value))
        value += "; charset=utf-8";
    entries_.emplace_back(lower(ext), std::move(value));
}

std::string_view mime_table::find(std::string_view path) const noexcept
{
    const std::string_view name = path.substr(path.rfind('/') + 1); // npos + 1 == 0
    const std::size_t dot = name.rfind('.');
    if (dot == std::string_view::npos || dot == 0) // no extension, or a dotfile such as ".htaccess"
        return octet_stream;
    const std::string_view ext = name.substr(dot + 1);
    if (ext.empty() || ext.size() > max_ext)
        return octet_stream;
    char buf[max_ext];
    std::transform(ext.begin(), ext.end(), buf, ascii_lower);
    const std::string_view key(buf, ext.size());
    const auto it = std::lower_bound(entries_.begin(), entries_.end(), key,
                                     [](const auto& e, std::string_view k) { return std::string_view(e.first) < k; });
    return it != entries_.end() && it->first == key ? std::string_view(it->second) : octet_stream;
}

std::string_view content_type(std::string_view path) { return process_table().find(path); }

} // namespace ringfork::worker::static_rules

// Text inside a JSON string, the one escaping every JSON document here uses (job states,
// the stats views). Owns escaping and UTF-8 checking; leaves the document's shape to callers.
#pragma once

#include <string>
#include <string_view>

namespace ringfork::ipc {

/// `text` as a JSON string body: quotes, backslashes and control bytes escaped, and bytes
/// that are not UTF-8 replaced by U+FFFD, so text from outside never breaks the document.
[[nodiscard]] std::string json_text(std::string_view text);

} // namespace ringfork::ipc

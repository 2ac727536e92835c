// One format for system-call failures: the call, the object, the errno text.
// Owns wording only; callers decide whether the failure is fatal.
#pragma once

#include <string>
#include <string_view>

namespace ringfork::net {

/// "bind 127.0.0.1:80: Permission denied" — `call` names the call (and option),
/// `object` what it acted on, `err` the errno value.
[[nodiscard]] std::string sys_error(std::string_view call, std::string_view object, int err);

} // namespace ringfork::net

// Who the master's children (workers, task runners and the jobs they start) run as:
// resolving `--user USER[:GROUP]` at start, and becoming that identity in a child right
// after fork. Owns the identity and the order of the calls that drop privileges; leaves
// when to call it to the spawn routine.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringfork::master {

/// The identity children run as.
struct identity {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups; ///< Supplementary groups (the user's, as initgroups sets them).
    std::string name;          ///< The user's name ("nobody").
    std::string group;         ///< The primary group's name, or its number.
    bool without_entry = false; ///< A numeric UID:GID with no passwd entry: no other groups.
    /// The master is root and the children are not: they switch user and drop every
    /// capability. False when the children keep the master's identity.
    bool switch_user = false;
    /// The children run without capabilities and with PR_SET_NO_NEW_PRIVS (every case but
    /// root naming root).
    bool unprivileged = true;
    /// The startup line saying who the children run as.
    [[nodiscard]] std::string describe() const;
};

/// Resolves `spec` ("USER", "USER:GROUP", names or numbers, and "UID:GID" even without a
/// passwd entry; empty: the default) for a
/// master whose effective ids are `euid`/`egid`. As root the default is `nobody` with its
/// primary group; otherwise the default is the master's own identity, and naming any other
/// user or group is an error (only root can switch). On error returns nullopt and sets
/// `error` to the text after "--user: ".
[[nodiscard]] std::optional<identity> resolve_run_as(std::string_view spec, uid_t euid, gid_t egid, std::string& error);

/// In a freshly forked child: becomes `who` (setgroups, setresgid, setresuid, then checks
/// with getresuid/getresgid that no id is left behind and that no capability remains) and
/// sets PR_SET_NO_NEW_PRIVS when `who.unprivileged`. On failure returns false and sets
/// `error` to a line naming the call, `child` and the errno.
[[nodiscard]] bool become(const identity& who, std::string_view child, std::string& error);

} // namespace ringfork::master

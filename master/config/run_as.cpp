// Who the children run as.
#include "master/config/run_as.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include <fmt/format.h>

#include "master/config/flag_values.hpp"
#include "net/error.hpp"

namespace ringfork::master {

namespace {

/// Runs `lookup(buffer, size)`, a getpw*_r or getgr*_r call, with a buffer that grows
/// while the call answers ERANGE; returns the call's result.
template <typename Lookup> int with_growing_buffer(std::vector<char>& buf, Lookup&& lookup)
{
    for (;;) {
        const int rc = lookup(buf.data(), buf.size());
        if (rc != ERANGE || buf.size() >= (1u << 20))
            return rc;
        buf.resize(buf.size() * 2);
    }
}

/// A user by name or number: uid, primary gid and name.
struct user_entry {
    uid_t uid;
    gid_t gid;
    std::string name;
};

std::optional<user_entry> find_user(std::string_view text)
{
    std::vector<char> buf(4096);
    passwd pw{};
    passwd* found = nullptr;
    const std::string key(text);
    const auto number = parse_uint(text);
    const int rc = with_growing_buffer(buf, [&](char* b, std::size_t n) {
        return number ? getpwuid_r(static_cast<uid_t>(*number), &pw, b, n, &found) : getpwnam_r(key.c_str(), &pw, b, n, &found);
    });
    if (rc != 0 || !found)
        return std::nullopt;
    return user_entry{pw.pw_uid, pw.pw_gid, pw.pw_name};
}

/// A group by name or number; a number need not be in the group database.
std::optional<std::pair<gid_t, std::string>> find_group(std::string_view text)
{
    std::vector<char> buf(4096);
    group gr{};
    group* found = nullptr;
    const std::string key(text);
    const auto number = parse_uint(text);
    const int rc = with_growing_buffer(buf, [&](char* b, std::size_t n) {
        return number ? getgrgid_r(static_cast<gid_t>(*number), &gr, b, n, &found) : getgrnam_r(key.c_str(), &gr, b, n, &found);
    });
    if (rc == 0 && found)
        return std::pair<gid_t, std::string>{gr.gr_gid, gr.gr_name};
    if (number)
        return std::pair<gid_t, std::string>{static_cast<gid_t>(*number), key};
    return std::nullopt;
}

std::string group_name(gid_t gid)
{
    auto g = find_group(std::to_string(gid));
    return g ? g->second : std::to_string(gid);
}

/// The supplementary groups initgroups(3) would give `name` with primary group `gid`.
std::vector<gid_t> groups_of(const std::string& name, gid_t gid)
{
    std::vector<gid_t> groups(32);
    for (int tries = 0; tries < 8; ++tries) {
        int n = static_cast<int>(groups.size());
        if (getgrouplist(name.c_str(), gid, groups.data(), &n) >= 0) {
            groups.resize(static_cast<std::size_t>(n));
            return groups;
        }
        groups.resize(static_cast<std::size_t>(n) > groups.size() ? static_cast<std::size_t>(n) : groups.size() * 2);
    }
    return {gid};
}

/// The capability sets of this process, effective and permitted, as 64-bit masks.
bool capabilities(std::uint64_t& effective, std::uint64_t& permitted)
{
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capget, &header, data) != 0)
        return false;
    effective = data[0].effective | (std::uint64_t(data[1].effective) << 32);
    permitted = data[0].permitted | (std::uint64_t(data[1].permitted) << 32);
    return true;
}

/// Clears every capability set this process holds (ambient, then effective, permitted and
/// inheritable); dropping needs no privilege.
bool drop_capabilities(std::string_view child, std::string& error)
{
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
        error = net::sys_error("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", child, errno);
        return false;
    }
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capset, &header, none) != 0) {
        error = net::sys_error("capset", child, errno);
        return false;
    }
    return true;
}

} // namespace

std::string identity::describe() const
{
    std::string groups_text;
    for (gid_t g : groups)
        groups_text += fmt::format("{}{}", groups_text.empty() ? "" : ",", g);
    return fmt::format("{}:{} (uid {}, gid {}, groups {}){}", name, group, uid, gid,
                       groups_text.empty() ? "none" : groups_text,
                       unprivileged ? ", without capabilities" : ", with every privilege of root");
}

std::optional<identity> resolve_run_as(std::string_view spec, uid_t euid, gid_t egid, std::string& error)
{
    std::string_view user_text = spec.substr(0, spec.find(':'));
    std::string_view group_text;
    if (const auto colon = spec.find(':'); colon != std::string_view::npos) {
        group_text = spec.substr(colon + 1);
        if (group_text.empty() || user_text.empty()) {
            error = fmt::format("'{}' is not USER or USER:GROUP", spec);
            return std::nullopt;
        }
    }
    if (spec.empty())
        user_text = euid == 0 ? std::string_view("nobody") : std::string_view();
    identity who;
    if (user_text.empty()) {
        // Not root and no --user: the children are the master's own user.
        auto self = find_user(std::to_string(euid));
        who.uid = euid;
        who.gid = egid;
        who.name = self ? self->name : std::to_string(euid);
    } else {
        auto user = find_user(user_text);
        const auto number = parse_uint(user_text);
        if (!user && number && *number <= 0xfffffffeu && !group_text.empty()) {
            // UID:GID with no passwd entry (a container image without one): taken as given,
            // with no supplementary group but GID.
            user = user_entry{static_cast<uid_t>(*number), 0, std::string(user_text)};
            who.without_entry = true;
        }
        if (!user) {
            error = spec.empty() ? "started as root without --user, and there is no user 'nobody' to run the "
                                   "children as: name one with --user USER[:GROUP]"
                  : number     ? fmt::format("'{}' is not a user on this system (a numeric id without an entry "
                                             "needs its group too: {}:GID)",
                                             user_text, user_text)
                               : fmt::format("'{}' is not a user on this system", user_text);
            return std::nullopt;
        }
        who.uid = user->uid;
        who.gid = user->gid;
        who.name = user->name;
    }
    if (!group_text.empty()) {
        auto g = find_group(group_text);
        if (!g) {
            error = fmt::format("'{}' is not a group on this system", group_text);
            return std::nullopt;
        }
        who.gid = g->first;
    }
    who.group = group_text.empty() || parse_uint(group_text) ? group_name(who.gid) : std::string(group_text);
    if (euid != 0) {
        if (who.uid != euid || who.gid != egid) {
            error = fmt::format("only root can run the children as another user or group; ringfork runs as uid {} "
                                "gid {}, and '{}' is uid {} gid {}",
                                euid, egid, spec, who.uid, who.gid);
            return std::nullopt;
        }
        std::vector<gid_t> current(static_cast<std::size_t>(std::max(0, ::getgroups(0, nullptr))));
        current.resize(static_cast<std::size_t>(std::max(0, ::getgroups(static_cast<int>(current.size()), current.data()))));
        who.groups = std::move(current);
        return who;
    }
    who.groups = who.without_entry ? std::vector<gid_t>{who.gid} : groups_of(who.name, who.gid);
    who.switch_user = !(who.uid == 0 && who.gid == egid);
    who.unprivileged = who.uid != 0;
    return who;
}

bool become(const identity& who, std::string_view child, std::string& error)
{
    if (who.switch_user) {
        // Groups first: once the uid is not 0, setgroups and setgid are no longer allowed.
        if (::setgroups(who.groups.size(), who.groups.data()) != 0) {
            error = net::sys_error("setgroups", child, errno);
            return false;
        }
        if (::setresgid(who.gid, who.gid, who.gid) != 0) {
            error = net::sys_error(fmt::format("setresgid({})", who.gid), child, errno);
            return false;
        }
        if (::setresuid(who.uid, who.uid, who.uid) != 0) {
            error = net::sys_error(fmt::format("setresuid({})", who.uid), child, errno);
            return false;
        }
        uid_t r = 0, e = 0, s = 0;
        gid_t rg = 0, eg = 0, sg = 0;
        if (::getresuid(&r, &e, &s) != 0 || ::getresgid(&rg, &eg, &sg) != 0 || r != who.uid || e != who.uid ||
            s != who.uid || rg != who.gid || eg != who.gid || sg != who.gid) {
            error = fmt::format("getresuid {}: ids {}/{}/{} gids {}/{}/{} after switching to uid {} gid {}", child, r,
                                e, s, rg, eg, sg, who.uid, who.gid);
            return false;
        }
    }
    if (!who.unprivileged)
        return true;
    if (!drop_capabilities(child, error))
        return false;
    std::uint64_t effective = 0, permitted = 0;
    if (!capabilities(effective, permitted) || effective != 0 || permitted != 0) {
        error = fmt::format("capget {}: capabilities left after dropping them (effective {:x}, permitted {:x})", child,
                            effective, permitted);
        return false;
    }
    // No exec'd program (a job's command) can gain privileges through set-user-ID bits or
    // file capabilities.
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        error = net::sys_error("prctl(PR_SET_NO_NEW_PRIVS)", child, errno);
        return false;
    }
    return true;
}

} // namespace ringfork::master

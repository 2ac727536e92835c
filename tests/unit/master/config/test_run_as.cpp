// --user: resolving who the children run as, and becoming it in a child.
#include <boost/test/unit_test.hpp>

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "master/config/run_as.hpp"

using namespace ringfork::master;

namespace {

const passwd* nobody() { return getpwnam("nobody"); }

/// A line of /proc/self/status ("CapEff:\t0000000000000000" gives "0000000000000000").
std::string status_field(const std::string& name)
{
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind(name + ":", 0) == 0) {
            const auto start = line.find_first_not_of(" \t", name.size() + 1);
            return start == std::string::npos ? "" : line.substr(start);
        }
    return {};
}

} // namespace

BOOST_AUTO_TEST_SUITE(run_as)

BOOST_AUTO_TEST_CASE(root_defaults_to_nobody)
{
    if (!nobody())
        return; // no such user here: resolve's own error is checked below
    std::string error;
    auto who = resolve_run_as("", 0, 0, error);
    BOOST_REQUIRE_MESSAGE(who, error);
    BOOST_TEST(who->uid == nobody()->pw_uid);
    BOOST_TEST(who->gid == nobody()->pw_gid);
    BOOST_TEST(who->name == "nobody");
    BOOST_TEST(who->switch_user);
    BOOST_TEST(who->unprivileged);
    BOOST_TEST((std::find(who->groups.begin(), who->groups.end(), who->gid) != who->groups.end()));
    BOOST_TEST(who->describe().find("nobody:") == 0u);
}

BOOST_AUTO_TEST_CASE(user_group_names_and_numbers)
{
    if (!nobody())
        return;
    const uid_t uid = nobody()->pw_uid;
    std::string error;
    auto by_number = resolve_run_as(std::to_string(uid), 0, 0, error);
    BOOST_REQUIRE_MESSAGE(by_number, error);
    BOOST_TEST(by_number->name == "nobody");
    auto with_group = resolve_run_as("nobody:0", 0, 0, error);
    BOOST_REQUIRE_MESSAGE(with_group, error);
    BOOST_TEST(with_group->gid == 0u);
    BOOST_TEST(with_group->group == "root");
    BOOST_TEST(with_group->groups.front() == 0u); // initgroups puts the chosen group in the list
}

BOOST_AUTO_TEST_CASE(numeric_ids_without_an_entry)
{
    // A container image often has no passwd entry for the uid it runs as.
    uid_t unused = 54321;
    while (getpwuid(unused))
        ++unused;
    std::string error;
    auto who = resolve_run_as(fmt::format("{}:{}", unused, unused + 1), 0, 0, error);
    BOOST_REQUIRE_MESSAGE(who, error);
    BOOST_TEST(who->uid == unused);
    BOOST_TEST(who->gid == unused + 1);
    BOOST_TEST((who->groups == std::vector<gid_t>{unused + 1}));
    BOOST_TEST(who->switch_user);
    BOOST_TEST(!resolve_run_as(std::to_string(unused), 0, 0, error));
    BOOST_TEST(error == fmt::format("'{}' is not a user on this system (a numeric id without an entry needs its "
                                    "group too: {}:GID)",
                                    unused, unused));
}

BOOST_AUTO_TEST_CASE(root_naming_root_keeps_its_privileges)
{
    std::string error;
    auto who = resolve_run_as("root", 0, 0, error);
    BOOST_REQUIRE_MESSAGE(who, error);
    BOOST_TEST(who->uid == 0u);
    BOOST_TEST(!who->switch_user);
    BOOST_TEST(!who->unprivileged);
}

BOOST_AUTO_TEST_CASE(refusals_say_why)
{
    std::string error;
    BOOST_TEST(!resolve_run_as("no-such-user-rf", 0, 0, error));
    BOOST_TEST(error == "'no-such-user-rf' is not a user on this system");
    BOOST_TEST(!resolve_run_as("root:no-such-group-rf", 0, 0, error));
    BOOST_TEST(error == "'no-such-group-rf' is not a group on this system");
    BOOST_TEST(!resolve_run_as("root:", 0, 0, error));
    BOOST_TEST(error == "'root:' is not USER or USER:GROUP");
    BOOST_TEST(!resolve_run_as(":root", 0, 0, error));
}

BOOST_AUTO_TEST_CASE(only_root_switches)
{
    if (!nobody())
        return;
    const uid_t uid = nobody()->pw_uid;
    const gid_t gid = nobody()->pw_gid;
    std::string error;
    // Not root: the default is the master's own identity, and naming it is accepted.
    auto self = resolve_run_as("", uid, gid, error);
    BOOST_REQUIRE_MESSAGE(self, error);
    BOOST_TEST(self->uid == uid);
    BOOST_TEST(!self->switch_user);
    BOOST_TEST(self->unprivileged);
    auto named = resolve_run_as("nobody", uid, gid, error);
    BOOST_REQUIRE_MESSAGE(named, error);
    BOOST_TEST(!named->switch_user);
    // Anyone else is refused, naming both identities.
    BOOST_TEST(!resolve_run_as("root", uid, gid, error));
    BOOST_TEST(error.find("only root can run the children as another user") == 0u);
    BOOST_TEST(error.find("'root' is uid 0") != std::string::npos);
    BOOST_TEST(!resolve_run_as("nobody:0", uid, gid, error));
}

BOOST_AUTO_TEST_CASE(a_child_becomes_nobody_without_capabilities)
{
    if (geteuid() != 0 || !nobody())
        return; // only root can switch
    std::string error;
    auto who = resolve_run_as("nobody", 0, 0, error);
    BOOST_REQUIRE_MESSAGE(who, error);
    int report[2];
    BOOST_REQUIRE(pipe(report) == 0);
    const pid_t pid = fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        std::string why;
        std::string line;
        if (!become(*who, "test child", why)) {
            line = "failed " + why;
        } else {
            uid_t r, e, s;
            (void)getresuid(&r, &e, &s);
            line = std::to_string(r) + " " + std::to_string(e) + " " + std::to_string(s) + " " +
                   status_field("CapEff") + " " + status_field("CapPrm") + " " + status_field("NoNewPrivs") + " " +
                   std::to_string(setuid(0));
        }
        (void)!write(report[1], line.data(), line.size());
        _exit(0);
    }
    close(report[1]);
    char buf[512] = {};
    const ssize_t n = read(report[0], buf, sizeof buf - 1);
    close(report[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    BOOST_REQUIRE(n > 0);
    const std::string id = std::to_string(who->uid);
    BOOST_TEST(std::string(buf) == id + " " + id + " " + id + " 0000000000000000 0000000000000000 1 -1");
}

BOOST_AUTO_TEST_SUITE_END()

// A served root for one test: base/ made under /tmp, base/root/ in it with a descriptor open
// on it (as a worker holds --root's), and base/outside.txt beside it for links that leave.
// Owns making and removing the tree; leaves what goes in it to each test's fixture.
#pragma once

#include <fcntl.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "net/fd.hpp"

namespace ringfork::test {

struct temp_root {
    std::filesystem::path base;
    std::filesystem::path root;
    net::unique_fd root_fd;

    temp_root()
    {
        char tmpl[] = "/tmp/rf-unit-XXXXXX";
        base = ::mkdtemp(tmpl);
        root = base / "root";
        std::filesystem::create_directories(root);
        std::ofstream(base / "outside.txt") << "outside";
        root_fd.reset(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    }
    ~temp_root() { std::filesystem::remove_all(base); }
    temp_root(const temp_root&) = delete;
    temp_root& operator=(const temp_root&) = delete;

    /// Writes `text` to root/`name`, making the directories on the way.
    void write(const std::filesystem::path& name, std::string_view text) const
    {
        std::filesystem::create_directories((root / name).parent_path());
        std::ofstream(root / name) << text;
    }
};

} // namespace ringfork::test

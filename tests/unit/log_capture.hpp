// The process's log lines, while one of these lives, kept in a memory file instead of going
// to stderr: for tests that cause errors on purpose and check what was said. Owns the file
// and sends later lines back to stderr when it goes; leaves what is logged to the code.
#pragma once

#include <boost/test/unit_test.hpp>

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "net/fd.hpp"
#include "net/log.hpp"

namespace ringfork::test {

class log_capture {
public:
    log_capture() : file_(::memfd_create("rf-test-log", MFD_CLOEXEC))
    {
        BOOST_REQUIRE(file_);
        net::log::set_fd(file_.get());
    }
    ~log_capture() { net::log::set_fd(2); }
    log_capture(const log_capture&) = delete;
    log_capture& operator=(const log_capture&) = delete;

    /// Everything logged since this began.
    [[nodiscard]] std::string text() const
    {
        struct stat st{};
        BOOST_REQUIRE(::fstat(file_.get(), &st) == 0);
        std::string out(static_cast<std::size_t>(st.st_size), '\0');
        BOOST_REQUIRE(::pread(file_.get(), out.data(), out.size(), 0) == st.st_size);
        return out;
    }
    /// How many lines contain `needle`.
    [[nodiscard]] std::size_t count(std::string_view needle) const
    {
        const std::string all = text();
        std::size_t n = 0;
        for (std::size_t at = 0, end; at < all.size(); at = end + 1) {
            end = all.find('\n', at);
            if (end == std::string::npos)
                end = all.size();
            if (std::string_view(all).substr(at, end - at).find(needle) != std::string_view::npos)
                ++n;
        }
        return n;
    }

private:
    net::unique_fd file_;
};

} // namespace ringfork::test

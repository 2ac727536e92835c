// What a worker's handlers need around them in a test without a loop: the parts a
// worker_env refers to, and one request's answer as a handler wrote it. Owns those parts;
// leaves the routes and the requests to each test.
#pragma once

#include <string>

#include "ipc/stats.hpp"
#include "ipc/worker_start.hpp"
#include "net/http_response.hpp"
#include "worker/router.hpp"
#include "worker/worker_env.hpp"

namespace ringfork::test {

/// A worker_env and everything it refers to, empty.
struct worker_env_parts {
    worker::router routes;
    http::date_cache date;
    ipc::worker_settings settings;
    ipc::worker_stats stats;
    std::string scratch;
    worker::worker_env env{routes, date, settings, stats, scratch};
};

/// The bytes a handler wrote for one request and what it deferred.
struct handler_result {
    std::string wire;
    worker::deferred later;
    [[nodiscard]] unsigned status() const
    {
        return wire.size() > 12 ? static_cast<unsigned>(std::stoul(wire.substr(9, 3))) : 0u;
    }
    [[nodiscard]] std::string body() const { return wire.substr(wire.find("\r\n\r\n") + 4); }
};

} // namespace ringfork::test

// The proxy's routes: each --proxy prefix in the worker's router, with a handler that
// re-frames the request for its upstream and hands it to a proxy source. Owns the
// handlers; leaves the exchange to the proxy source.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ipc/upstream_config.hpp"
#include "worker/router.hpp"
#include "worker/upstream_pool.hpp"

namespace ringfork::worker {

class proxy_handler final : public handler {
public:
    proxy_handler(upstream_pool& pool, std::uint16_t upstream) noexcept : pool_(pool), upstream_(upstream) {}
    void handle(const request_view& req, http::response_writer& w, deferred& later) override;
    /// Bodies go upstream as they arrive, never buffered whole.
    [[nodiscard]] bool streams_body() const noexcept override { return true; }

private:
    upstream_pool& pool_;
    std::uint16_t upstream_;
};

class proxy_routes {
public:
    /// Adds the routes of every --proxy prefix (ipc::proxy_patterns); "" or why one is
    /// refused (the master checks for collisions at start, so only a bug gets here).
    [[nodiscard]] std::string add(router& routes, upstream_pool& pool, const ipc::proxy_settings& settings);

private:
    std::vector<std::unique_ptr<proxy_handler>> handlers_;
};

} // namespace ringfork::worker

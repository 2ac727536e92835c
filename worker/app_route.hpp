// A library handler as one of the worker's routes: it hands the user's function a request
// and a responder, and turns an answer that is not complete when the function returns
// into a body source. Owns the adapter; leaves answering to the exchange.
#pragma once

#include "ringfork/http.hpp"
#include "worker/router.hpp"

namespace ringfork::worker {

class app_route final : public handler {
public:
    explicit app_route(ringfork::handler fn) noexcept : fn_(std::move(fn)) {}
    void handle(const request_view& req, http::response_writer& w, deferred& later) override;

private:
    ringfork::handler fn_;
};

} // namespace ringfork::worker

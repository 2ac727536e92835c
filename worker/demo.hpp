// Built-in endpoints: the TechEmpower shapes behind --demo and the welcome page of the
// no-argument default. Owns their bodies; leaves routing to the router.
#pragma once

#include "worker/router.hpp"

namespace ringfork::worker {

/// GET /plaintext: "Hello, World!" as text/plain.
class plaintext_handler final : public handler {
public:
    void handle(const request_view& req, http::response_writer& w, deferred& later) override;
};

/// GET /json: {"message":"Hello, World!"}.
class json_handler final : public handler {
public:
    void handle(const request_view& req, http::response_writer& w, deferred& later) override;
};

/// GET /: a small HTML page saying what is running and which routes exist.
class welcome_handler final : public handler {
public:
    void handle(const request_view& req, http::response_writer& w, deferred& later) override;
};

} // namespace ringfork::worker

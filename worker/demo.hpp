// Built-in endpoints: the TechEmpower shapes behind --demo and the welcome page of the
// no-argument default, written as library handlers on the public API like any app's.
// Owns their bodies; leaves routing to the router.
#pragma once

#include "ringfork/http.hpp"

namespace ringfork::worker {

/// GET /plaintext: "Hello, World!" as text/plain.
void plaintext(ringfork::request& req, ringfork::responder res);
/// GET /json: {"message":"Hello, World!"}.
void json(ringfork::request& req, ringfork::responder res);
/// GET /: a small page naming the demo routes.
void welcome(ringfork::request& req, ringfork::responder res);

} // namespace ringfork::worker

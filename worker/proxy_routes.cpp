// The proxy's routes.
#include "worker/proxy_routes.hpp"

#include "worker/proxy_framing.hpp"
#include "worker/proxy_source.hpp"
#include "worker/worker_env.hpp"

namespace ringfork::worker {

void proxy_handler::handle(const request_view& req, http::response_writer&, deferred& later)
{
    const http::method m = req.head.verb;
    proxy_source::request_facts facts;
    facts.head = m == http::method::head;
    facts.idempotent = m == http::method::get || m == http::method::head || m == http::method::options ||
                       m == http::method::put || m == http::method::delete_;
    facts.length_known = req.head.framing == http::body_framing::content_length;
    facts.length = req.head.content_length;
    net::byte_buffer head = pool_.take_buffer();
    static const net::peer_ip unknown;
    const net::peer_ip* peer = req.env ? req.env->peer : nullptr; // kept when proxy routes exist
    write_upstream_head(req.head, peer ? *peer : unknown, pool_.name(upstream_), head);
    later.source = std::make_unique<proxy_source>(pool_, upstream_, std::move(head), facts);
}

std::string proxy_routes::add(router& routes, upstream_pool& pool, const ipc::proxy_settings& settings)
{
    for (const ipc::proxy_route& r : settings.routes) {
        handlers_.push_back(std::make_unique<proxy_handler>(pool, static_cast<std::uint16_t>(r.index)));
        proxy_handler* h = handlers_.back().get();
        for (const std::string& p : ipc::proxy_patterns(r.prefix))
            if (std::string refused = routes.add(p, ipc::proxied_methods, h); !refused.empty())
                return refused;
    }
    return {};
}

} // namespace ringfork::worker

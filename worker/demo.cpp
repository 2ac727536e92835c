// Built-in demo endpoints.
#include "worker/demo.hpp"

namespace ringfork::worker {

void plaintext(ringfork::request&, ringfork::responder res)
{
    res.send(200, "text/plain", "Hello, World!");
}

void json(ringfork::request&, ringfork::responder res)
{
    res.send(200, "application/json", R"({"message":"Hello, World!"})");
}

void welcome(ringfork::request&, ringfork::responder res)
{
    static constexpr std::string_view page = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ringfork</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;color:#222}
code{background:#f3f3f3;padding:.1em .3em;border-radius:3px}</style></head>
<body><h1>ringfork is running</h1>
<p>A prefork HTTP/1.1 server: one master process, one io_uring worker per core, one shared port.</p>
<ul><li><a href="/plaintext"><code>GET /plaintext</code></a> &mdash; Hello, World!</li>
<li><a href="/json"><code>GET /json</code></a> &mdash; a small JSON document</li>
<li><a href="/prime?n=999999999999999989"><code>GET /prime?n=N</code></a> and
<a href="/fib?n=35"><code>GET /fib?n=N</code></a> &mdash; CPU-heavy work, run in the task pool
while the workers keep answering everyone else</li></ul>
<p>Serve a directory with <code>ringfork --root DIR</code>; see <code>ringfork --help</code>.</p>
</body></html>
)";
    res.send(200, "text/html; charset=utf-8", page);
}

} // namespace ringfork::worker

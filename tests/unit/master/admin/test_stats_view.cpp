// Stats rendering: JSON fields, Prometheus text, tables, the model line format, top.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <sstream>

#include "ipc/control.hpp"
#include "master/ctl/ctl.hpp"
#include "master/admin/stats_view.hpp"

using namespace ringfork::master;

namespace {

stats_model sample()
{
    stats_model m;
    m.master.pid = 100;
    m.master.version = "0.1.0";
    m.master.uptime_s = 3725;
    m.master.slots = 2;
    m.master.respawns = 1;
    for (unsigned i = 0; i < 2; ++i) {
        worker_view w;
        w.slot = i;
        w.pid = 200 + i;
        w.generation = 1 + i;
        w.state = i ? "starting" : "ready";
        w.uptime_s = 12.5;
        w.restarts = i;
        w.last_exit = i ? "signal 9 (Killed)" : "";
        w.stats.requests = 10 * (i + 1);
        for (unsigned k = 0; k < 10 * (i + 1); ++k) {
            w.stats.count_response(k % 10 == 9 ? 404 : 200);
            w.stats.latency.record(100 + k);
        }
        w.stats.connections_open = i + 1;
        m.totals.merge(w.stats);
        m.workers.push_back(w);
    }
    m.totals.requests += 5; // a retired worker's share
    return m;
}

} // namespace

BOOST_AUTO_TEST_SUITE(stats_view)

BOOST_AUTO_TEST_CASE(json_has_the_documented_fields)
{
    const std::string j = render_json(sample());
    for (const char* key : {R"j({"master":{"pid":100,"version":"0.1.0")j", R"j("totals":{"requests":35,)j",
                            R"j("responses":{"1xx":0,"2xx":27,"3xx":0,"4xx":3,"5xx":0})j", R"j("404":3)j",
                            R"j("connections_open":3)j", R"j("latency_us":{"p50":119,)j", R"j("workers":[{"slot":0,"pid":200,)j",
                            R"j("state":"ready","uptime_s":12.500,)j", R"j("restarts":0,"last_exit":null})j",
                            R"j("restarts":1,"last_exit":"signal 9 (Killed)"})j", R"j("respawns":1)j"})
        BOOST_TEST(j.find(key) != std::string::npos, key);
    BOOST_TEST(j.back() == '\n');
}

BOOST_AUTO_TEST_CASE(prometheus_text_is_well_formed)
{
    stats_model m = sample();
    m.workers.push_back(m.workers[0]); // a slot with two workers (rolling restart)
    m.workers.back().generation = 7;
    m.workers.back().stats.requests = 77;
    const std::string text = render_prometheus(m);
    std::istringstream in(text);
    std::string line;
    std::map<std::string, int> typed;
    std::map<std::string, int> seen;
    while (std::getline(in, line)) {
        BOOST_REQUIRE(!line.empty());
        if (line.starts_with("# TYPE ")) {
            ++typed[line.substr(7, line.find(' ', 7) - 7)];
            continue;
        }
        if (line.starts_with("#"))
            continue;
        ++seen[line.substr(0, line.rfind(' '))];
    }
    for (const auto& [name, n] : typed)
        BOOST_TEST(n == 1, name);
    for (const auto& [series, n] : seen)
        BOOST_TEST(n == 1, series); // no duplicate series, even with two workers in a slot
    BOOST_TEST(text.find("ringfork_requests_total 35\n") != std::string::npos);
    BOOST_TEST(text.find("ringfork_responses_total{class=\"4xx\"} 3\n") != std::string::npos);
    BOOST_TEST(text.find("ringfork_error_responses_total{status=\"404\"} 3\n") != std::string::npos);
    BOOST_TEST(text.find("ringfork_worker_requests_total{slot=\"0\"} 77\n") != std::string::npos);
    BOOST_TEST(text.find("ringfork_request_duration_seconds_bucket{le=\"+Inf\"} 30\n") != std::string::npos);
    BOOST_TEST(text.find("ringfork_request_duration_seconds_count 30\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(tables_show_every_worker)
{
    const stats_model m = sample();
    const std::string s = render_stats_table(m);
    BOOST_TEST(s.find("master pid 100  up 1h02m  workers 2/2") != std::string::npos);
    BOOST_TEST(s.find("404 3") != std::string::npos);
    const std::string w = render_workers_table(m);
    BOOST_TEST(w.find("SLOT") == 0u);
    BOOST_TEST(w.find("200") != std::string::npos);
    BOOST_TEST(w.find("signal 9 (Killed)") != std::string::npos);
    BOOST_TEST(std::count(w.begin(), w.end(), '\n') == 3);
}

BOOST_AUTO_TEST_CASE(model_round_trips)
{
    const stats_model m = sample();
    const std::string text = encode_model(m);
    BOOST_TEST(text.starts_with(ringfork::ipc::control::model_magic));
    const auto back = decode_model(text);
    BOOST_REQUIRE(back.has_value());
    BOOST_TEST(encode_model(*back) == text);
    BOOST_TEST(back->workers.size() == 2u);
    BOOST_TEST(back->workers[1].last_exit == "signal 9 (Killed)");
    BOOST_TEST(back->totals.latency.sum_us == m.totals.latency.sum_us);
    BOOST_TEST(back->totals.responses_by_status[ringfork::ipc::status_slot(404)] == 3u);
    BOOST_TEST(!decode_model("ringfork-model 9\n").has_value());
    BOOST_TEST(!decode_model(text.substr(0, text.size() / 2)).has_value());
    BOOST_TEST(!decode_model("").has_value());
}

BOOST_AUTO_TEST_CASE(formats)
{
    BOOST_TEST(format_latency(812) == "812us");
    BOOST_TEST(format_latency(3400) == "3.4ms");
    BOOST_TEST(format_latency(1'250'000) == "1.25s");
    BOOST_TEST(format_duration(42.9) == "42s");
    BOOST_TEST(format_duration(303) == "5m03s");
    BOOST_TEST(format_duration(7800) == "2h10m");
    BOOST_TEST(format_duration(3 * 86400 + 4 * 3600) == "3d04h");
    BOOST_TEST(format_bytes(512) == "512 B");
    BOOST_TEST(format_bytes(1536) == "1.5 KiB");
}

BOOST_AUTO_TEST_CASE(top_frame_shows_rates_and_workers)
{
    stats_model before = sample();
    stats_model after = before;
    after.totals.requests += 500;
    after.workers[0].stats.requests += 500;
    const std::string f = render_top(after, &before, 0.5, {100, 1000}, 200);
    BOOST_TEST(f.find("req/s 1000") != std::string::npos);
    BOOST_TEST(f.find("[##########]") != std::string::npos); // slot 0 took every request
    BOOST_TEST(f.find("ready") != std::string::npos);
    BOOST_TEST(f.find("starting") != std::string::npos);
    const std::string narrow = render_top(after, nullptr, 0, {}, 30);
    std::istringstream in(narrow);
    for (std::string line; std::getline(in, line);)
        BOOST_TEST(line.size() <= 30u * 3); // at most 30 glyphs of up to 3 bytes
}

BOOST_AUTO_TEST_SUITE_END()

// Per-status counting for 4xx/5xx and the latency sum, as the worker's count_response and
// record leave them, and their merge.
#include <boost/test/unit_test.hpp>

#include "ipc/messages.hpp"

using namespace ringfork::ipc;

BOOST_AUTO_TEST_SUITE(status_counts)

BOOST_AUTO_TEST_CASE(tracked_and_other_statuses)
{
    worker_stats s;
    for (unsigned status : {200u, 204u, 301u, 404u, 404u, 431u, 418u, 503u, 599u, 101u})
        s.count_response(status);
    BOOST_TEST(s.responses_by_class[1] == 1u);
    BOOST_TEST(s.responses_by_class[2] == 2u);
    BOOST_TEST(s.responses_by_class[4] == 4u);
    BOOST_TEST(s.responses_by_class[5] == 2u);
    BOOST_TEST(s.responses_by_status[status_slot(404)] == 2u);
    BOOST_TEST(s.responses_by_status[status_slot(431)] == 1u);
    BOOST_TEST(s.responses_by_status[status_slot(503)] == 1u);
    BOOST_TEST(status_slot(418) == tracked_statuses.size()); // other
    BOOST_TEST(s.responses_by_status[tracked_statuses.size()] == 2u); // 418 and 599
    for (std::size_t i = 0; i < tracked_statuses.size(); ++i)
        BOOST_TEST(status_slot(tracked_statuses[i]) == i);
}

BOOST_AUTO_TEST_CASE(merge_keeps_every_count)
{
    worker_stats a, b;
    a.count_response(500);
    b.count_response(500);
    b.latency.record(30);
    b.latency.record(12);
    a.merge(b);
    BOOST_TEST(a.responses_by_status[status_slot(500)] == 2u);
    BOOST_TEST(a.latency.sum_us == 42u);
    static_assert(std::is_trivially_copyable_v<worker_stats>);
}

BOOST_AUTO_TEST_SUITE_END()

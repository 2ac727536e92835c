// Entry point of the unit-test binary; every other file under tests/unit adds suites.
#define BOOST_TEST_MODULE ringfork_unit
#include <boost/test/unit_test.hpp>

// ringfork with test-only routes: GET /__test/spin never returns, so the worker's loop
// stops turning (the watchdog's test case). An app of the library like any other.
#include <ringfork/ringfork.hpp>

int main(int argc, char** argv)
{
    ringfork::app app;
    app.get("/__test/spin", [](ringfork::request&, ringfork::responder) {
        volatile unsigned long spins = 0;
        for (;;)
            spins = spins + 1u;
    });
    return app.run(argc, argv);
}

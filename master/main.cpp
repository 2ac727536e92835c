// The ringfork binary: the library's app with nothing of its own registered, so the
// command line alone decides what it serves (the embedded default, --demo, --root,
// --task, ...).
#include <ringfork/ringfork.hpp>

int main(int argc, char** argv)
{
    return ringfork::app().run(argc, argv);
}

// GET /hello/{name} answers "Hello, NAME!" from one worker per core.
#include <ringfork/ringfork.hpp>

int main(int argc, char** argv)
{
    ringfork::app app;
    app.get("/hello/{name}", [](ringfork::request& req, ringfork::responder res) {
        res.send(200, "text/plain", "Hello, " + std::string(req.param("name")) + "!");
    });
    return app.run(argc, argv);
}

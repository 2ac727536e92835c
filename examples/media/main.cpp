// Media processing in the background: POST /media answers 202 at once with the job's
// Location, and a task in the pool hashes the body (SHA-256) and then takes a slow second,
// as real media work does. GET /media/ID answers 202 while it works, then 200 with the
// result. A body starting with LOOP spins forever, as a corrupt file can make a media
// library do: the pool kills it at --task-timeout, and the job reads as timed_out.
#include <ringfork/ringfork.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "sha256.hpp"

namespace {

/// The task, in a runner process: the digest, then about a second of "transcoding".
std::string process(ringfork::task_context& ctx, std::string_view input)
{
    if (input.starts_with("LOOP")) {
        volatile unsigned long spins = 0;
        for (;;)
            spins = spins + 1; // never looks at ctx.cancelled(): only SIGKILL ends it
    }
    ctx.progress("hashing");
    std::string digest = media::sha256_hex(input);
    ctx.progress("transcoding");
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (std::chrono::steady_clock::now() < until && !ctx.cancelled())
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return digest;
}

std::string json_of(std::string_view id, const ringfork::job_info& job, const std::string& digest)
{
    std::string out = "{\"id\":\"" + std::string(id) + "\",\"state\":\"" +
                      std::string(ringfork::state_name(job.what)) + "\"";
    if (job.what == ringfork::job_info::state::done)
        out += ",\"sha256\":\"" + digest + "\"";
    return out + "}\n";
}

} // namespace

int main(int argc, char** argv)
{
    ringfork::app app;
    app.task("media", process);

    app.post("/media", [](ringfork::request& req, ringfork::responder res) {
        ringfork::submit_task("media", req.body(), {}, [res = std::move(res)](ringfork::job_submitted job) mutable {
            if (!job.queued()) {
                const bool busy = job.refused == ringfork::task_result::outcome::queue_full;
                res.send(busy ? 503 : 500, "text/plain", job.message + "\n");
                return;
            }
            res.send(ringfork::response::json(202, "{\"id\":\"" + job.job_id + "\",\"state\":\"queued\"}\n")
                         .set("Location", "/media/" + job.job_id));
        });
    });

    app.get("/media/{id}", [](ringfork::request& req, ringfork::responder res) {
        const std::string_view id = req.param("id");
        const std::optional<ringfork::job_info> job = ringfork::job_state(id);
        if (!job) {
            res.send(404, "text/plain", "no such media job\n");
            return;
        }
        // The digest is the job's whole output: 64 hex characters.
        const std::string digest = job->what == ringfork::job_info::state::done
                                       ? ringfork::job_output(id, 64).value_or("")
                                       : std::string();
        res.send(ringfork::response::json(job->ended() ? 200 : 202, json_of(id, *job, digest)));
    });

    return app.run(argc, argv);
}

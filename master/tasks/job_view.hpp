// One queued or running job as operators see it (ringfork ctl tasks, /stats, the
// dashboard). Owns the fields; leaves filling them to the broker and showing them to the
// stats views.
#pragma once

#include <cstdint>
#include <string>

namespace ringfork::master {

struct job_view {
    std::string id;
    std::string task;
    std::string state;        ///< "queued" or "running".
    double elapsed_s = 0;     ///< Since it started (running) or was submitted (queued).
    std::int64_t runner_pid = 0;
};

} // namespace ringfork::master

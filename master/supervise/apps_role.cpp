// The supervisor's side of supervised apps: configuring the app supervisor, holding the
// first workers back until the instances are ready, and stopping the apps after the
// workers. What an app is and does lives in master/apps/.
#include "master/supervise/supervisor.hpp"

#include "net/clock.hpp"
#include "net/log.hpp"

namespace ringfork::master {

bool supervisor::spawn_all()
{
    for (unsigned i = 0; i < slots_.size(); ++i)
        if (!spawn(i))
            return false;
    return true;
}

std::uint64_t supervisor::drain_timeout_ms() const
{
    return static_cast<std::uint64_t>(opts_.shutdown_timeout_s * 1000);
}

void supervisor::configure_apps()
{
    if (!apps_ && opts_.apps.apps.empty())
        return;
    if (!apps_)
        apps_ = std::make_unique<app_supervisor>(opts_.worker.proxy, drain_timeout_ms());
    apps_->configure(opts_.apps, opts_.worker.proxy, drain_timeout_ms(), net::monotonic_ms());
}

void supervisor::tick_apps(std::uint64_t now)
{
    if (!apps_)
        return;
    if (!stopping_ && workers_held_ && apps_->ready_for_workers(now)) {
        workers_held_ = false;
        if (const std::string late = apps_->not_ready(); !late.empty())
            net::log::warn("starting the workers although not every instance of {} is ready", late);
        if (!spawn_all()) {
            net::log::error("could not start the workers: stopping");
            begin_stop(false);
        }
    }
    // A graceful stop stops the apps once the workers are gone: what they still had in
    // flight to an app gets its answer.
    if (stopping_ && workers_.empty())
        apps_->stop(now, true);
    apps_->tick(now);
}

} // namespace ringfork::master

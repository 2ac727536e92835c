// A worker's task calls on a real ring with the test playing the master: the channel's
// other end, and turns of the ring that hand completions to the calls. Owns the ring, the
// channel and the calls; leaves what the master answers to each test.
#pragma once

#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "ipc/fd_passing.hpp"
#include "ipc/task_channel.hpp"
#include "net/fd.hpp"
#include "net/ring.hpp"
#include "tests/unit/worker/env_fixture.hpp"
#include "worker/ops.hpp"
#include "worker/task_calls.hpp"

namespace ringfork::test {

struct fake_master : worker_env_parts {
    net::ring ring;
    net::unique_fd master; ///< The test's end of the worker's channel.
    worker::task_calls calls{ring, env};

    fake_master()
    {
        std::string error;
        ring = net::ring::create(64, error);
        BOOST_REQUIRE_MESSAGE(ring, error);
        int sv[2];
        BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
        master.reset(sv[0]);
        env.master_channel = sv[1];
        settings.task_pool = true;
        calls.attach(7);
    }
    ~fake_master() { ::close(env.master_channel); }
    fake_master(const fake_master&) = delete;
    fake_master& operator=(const fake_master&) = delete;

    /// Submits, waits up to `ms` for completions, hands the calls' own to them.
    void complete(int ms)
    {
        __kernel_timespec ts{0, static_cast<long long>(ms) * 1'000'000};
        io_uring_cqe* cqe = nullptr;
        io_uring_submit_and_wait_timeout(ring.get(), &cqe, 1, &ts, nullptr);
        unsigned head;
        unsigned seen = 0;
        std::vector<std::pair<worker::user_data, io_uring_cqe>> done;
        io_uring_for_each_cqe(ring.get(), head, cqe)
        {
            done.emplace_back(worker::user_data::decode(cqe->user_data), *cqe);
            ++seen;
        }
        io_uring_cq_advance(ring.get(), seen);
        for (const auto& [u, c] : done)
            if (u.kind == worker::op::service && u.tag == 7)
                calls.on_completion(u, c);
    }

    /// The master's side, once a message waits: the task message and the socket attached to it.
    ipc::worker_task_message receive(net::unique_fd& fd)
    {
        ipc::worker_task_message m;
        BOOST_REQUIRE(ipc::recv_with_fd(master.get(), &m, sizeof m, fd) == static_cast<long>(sizeof m));
        BOOST_REQUIRE(fd);
        return m;
    }
};

} // namespace ringfork::test

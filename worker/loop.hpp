// The worker's io_uring loop: accept, receive, send, timers, signals and the master channel,
// decoded from user_data in one place with one handler per operation.
// Owns the ring, connections and drain; leaves HTTP to http_session and routing to router.
#pragma once

#include <sys/signalfd.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/accept_share.hpp"
#include "ipc/messages.hpp"
#include "ipc/worker_start.hpp"
#include "net/http_response.hpp"
#include "net/fd.hpp"
#include "net/ring.hpp"
#include "net/user_data.hpp"
#include "worker/connection.hpp"
#include "worker/pipe_pool.hpp"
#include "worker/router.hpp"
#include "worker/timer_wheel.hpp"

namespace ringfork::worker {

class loop {
public:
    /// Sets up the ring, the buffer ring and the signal fd; `error` on failure.
    loop(const ipc::worker_start& start, const router& routes, std::string& error);

    /// Serves until drained or stopped; returns the process exit code.
    int run();
    /// What the kernel probe found.
    [[nodiscard]] const net::ring_features& features() const noexcept { return ring_.features(); }

private:
    struct listener {
        int fd = -1;
        bool armed = false;
    };
    enum class pause_reason : std::uint8_t { none, limit, balance, error };

    // One handler per operation, dispatched from handle().
    void handle(const io_uring_cqe& cqe);
    void on_accept(std::uint32_t index, const io_uring_cqe& cqe);
    void on_recv(connection& c, std::uint32_t index, const io_uring_cqe& cqe);
    void on_send(connection& c, std::uint32_t index, const io_uring_cqe& cqe);
    void on_file_read(connection& c, std::uint32_t index, const io_uring_cqe& cqe);
    void on_file_splice(connection& c, std::uint32_t index, const io_uring_cqe& cqe);
    file_body* file_step_done(connection& c, std::uint32_t index, int res, std::string_view call);
    void on_send_ready(connection& c, std::uint32_t index, const io_uring_cqe& cqe);
    void on_signal(const io_uring_cqe& cqe);
    void on_channel(const io_uring_cqe& cqe);

    void arm_accept(std::uint32_t index);
    void arm_recv(connection& c, std::uint32_t index);
    void arm_signal();
    void arm_channel();
    void pause_accept(pause_reason why);
    void maybe_resume_accept();

    std::uint32_t open_connection(int fd);
    void queue_flush(connection& c, std::uint32_t index);
    void output_sent(connection& c, std::uint32_t index);
    /// Gives an output-less connection a block from the spare pool, if there is one.
    void take_spare_block(connection& c);
    void pump_stream(connection& c, std::uint32_t index);
    bool next_part(connection& c, file_body& b);
    void splice_from_file(connection& c, std::uint32_t index, file_body& b);
    void splice_to_socket(connection& c, std::uint32_t index);
    void start_task(connection& c, std::uint32_t index);
    void on_task_send(connection& c, std::uint32_t index, const io_uring_cqe& cqe);
    void on_task_recv(connection& c, std::uint32_t index, const io_uring_cqe& cqe);
    void answer_task(connection& c, std::uint32_t index, unsigned status, std::string_view why);
    void task_answered(connection& c, std::uint32_t index, unsigned status, std::uint64_t body_bytes);
    void end_task(connection& c) noexcept;
    void after_session(connection& c, std::uint32_t index);
    void resume_session(connection& c, std::uint32_t index);
    void flush();
    void begin_close(connection& c, std::uint32_t index, bool graceful);
    void finish_close_if_done(connection& c, std::uint32_t index);
    void update_deadline(connection& c, std::uint32_t index);
    void on_deadline(std::uint32_t index);

    void start_drain();
    /// Accepts what is still queued on this worker's listeners (no new connections reach
    /// them once the master steers them away); true when every queue is empty.
    bool empty_accept_queues();
    void send_to_master(ipc::msg_type type);
    void tick();
    [[nodiscard]] __kernel_timespec wait_time() const noexcept;

    const ipc::worker_start& start_;
    const ipc::worker_settings& settings_;
    net::ring ring_;
    net::buffer_ring buffers_;
    net::unique_fd signal_fd_;
    signalfd_siginfo siginfo_{};
    ipc::message inbox_{};

    std::vector<listener> listeners_;
    std::vector<connection> conns_;
    std::vector<std::uint32_t> free_;
    std::vector<std::uint32_t> flush_list_;
    std::vector<net::byte_buffer> spare_out_; ///< Output blocks of idle connections, reused.
    pipe_pool pipes_;
    timer_wheel timers_;
    http::date_cache date_;
    ipc::worker_stats stats_;
    std::string scratch_;
    access_log access_log_;
    session_env env_;
    ipc::fair_share_window window_;

    std::uint64_t now_ms_ = 0;
    std::uint64_t now_us_ = 0;
    std::uint64_t next_stats_ms_ = 0;
    std::uint64_t next_window_ms_ = 0;
    std::uint64_t next_log_flush_ms_ = 0;
    std::uint64_t retire_until_ms_ = 0;  ///< A retiring worker accepts from its queue until then.
    std::uint32_t open_ = 0;
    pause_reason paused_ = pause_reason::none;
    bool draining_ = false;
    bool retiring_ = false;   ///< Draining, but first emptying the listeners' queues.
    bool stop_now_ = false;
    bool channel_alive_ = true;
};

} // namespace ringfork::worker

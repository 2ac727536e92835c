// The task spool: the one directory jobs' files live in, and the only code that knows its
// layout. Every operation is relative to a directory descriptor opened once with checks,
// with O_NOFOLLOW, never by a path someone could have replaced. Owns names, creation,
// the state record and removal; leaves what goes into the files to master, runner, worker.
//
//   <id>.state   the job's state record (job_state_record), replaced atomically, master only
//   <id>.out     standard output (or what a function task emitted)
//   <id>.err     standard error, the last stderr_keep bytes
//   <id>.in      an async job's body, written by the worker before it submits
//   <id>.run     an async job announced by a worker before the master has its state
//   tmp/<id>-XXXXXXXXXXXXXXXX/   the job's private working directory (TMPDIR)
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "ipc/task_protocol.hpp"
#include "net/fd.hpp"

namespace ringfork::ipc {

inline constexpr std::uint32_t state_magic = 0x534a4652; ///< "RFJS"
inline constexpr std::uint16_t state_version = 1;
inline constexpr std::uint64_t stderr_keep = 1 << 20;    ///< Bytes of a job's stderr kept.

/// A job's life as readers see it.
enum class job_state : std::uint8_t { queued = 1, running, done, failed, timed_out, cancelled };

/// "<id>.state": one fixed-size record, so a reader sees a whole state or none.
struct job_state_record {
    std::uint32_t magic = state_magic;
    std::uint16_t version = state_version;
    job_state state = job_state::queued;
    job_outcome outcome = job_outcome::ok; ///< Meaningful once ended.
    std::int32_t exit_code = -1;
    std::int32_t signal = 0;
    std::int32_t runner_pid = 0;
    std::uint32_t elapsed_ms = 0;
    std::uint64_t output_bytes = 0;
    std::uint64_t submitted_unix_ms = 0;
    std::uint64_t started_unix_ms = 0;
    std::uint64_t ended_unix_ms = 0;
    char task[task_name_max + 1] = {};
    char progress[job_text_max + 1] = {}; ///< The last progress line.
    char reason[job_text_max + 1] = {};   ///< Why it failed, was rejected or cancelled.
};

static_assert(std::is_trivially_copyable_v<job_state_record>);

/// "queued", "running", "done", "failed", "timed_out", "cancelled".
[[nodiscard]] std::string_view state_name(job_state s) noexcept;
/// True once a job has ended.
[[nodiscard]] constexpr bool ended(job_state s) noexcept { return s != job_state::queued && s != job_state::running; }
/// The state a job is in after ending with `o` (crashed and rejected jobs are failed).
[[nodiscard]] job_state state_after(job_outcome o) noexcept;

/// Who owns the spool and its files: the identity the server's children run as.
struct spool_owner {
    uid_t uid = 0;
    gid_t gid = 0;
};

class spool {
public:
    /// run: the stream intake's "<id>.run" marker; res: the result file of older versions.
    enum class file : std::uint8_t { state, out, err, in, run, res };

    /// Opens the spool at `path` for `owner`, creating a missing one (mkdir 0700, chown to
    /// the owner when this process is root) and its tmp/. Refuses a symlink, anything not a
    /// directory, a directory not owned by owner.uid, or one its group or others can enter.
    [[nodiscard]] static std::optional<spool> open(const std::string& path, spool_owner owner, std::string& error);
    /// The same checks on an existing spool; creates nothing.
    [[nodiscard]] static std::optional<spool> attach(const std::string& path, spool_owner owner, std::string& error);

    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] int dir_fd() const noexcept { return dir_.get(); }
    [[nodiscard]] int tmp_fd() const noexcept { return tmp_.get(); }

    /// "<id>.state" and friends: the one place names are made.
    [[nodiscard]] static std::string name(std::string_view id, file f);
    /// Opens a job's file for reading: never through a link, and only a regular file
    /// (anything else planted there is refused). On failure `err` is the errno.
    [[nodiscard]] net::unique_fd open_read(std::string_view id, file f, int& err) const;
    /// Creates a job's file for writing (mode 0600), replacing whatever had the name.
    [[nodiscard]] net::unique_fd create(std::string_view id, file f, int& err) const;
    /// Writes an async job's input as "<id>.in", whole. On failure what was written is
    /// removed and the error is returned ("write <id>.in: No space left on device");
    /// "" on success.
    [[nodiscard]] std::string write_input(std::string_view id, std::string_view bytes) const;
    /// Replaces "<id>.state": a temp file created O_EXCL, written whole, renamed over.
    /// Returns 0 or -errno (-ENOSPC when the spool is full).
    [[nodiscard]] int write_state(std::string_view id, const job_state_record& r) const;
    /// The state record, when "<id>.state" is a regular file holding a valid one.
    [[nodiscard]] std::optional<job_state_record> read_state(std::string_view id) const;
    /// Removes one file of a job; a missing one is fine.
    void remove(std::string_view id, file f) const noexcept;
    /// Removes every file of a job (not its working directory).
    void remove_job(std::string_view id) const noexcept;

    /// A job's fresh private directory under tmp/.
    struct job_dir {
        net::unique_fd fd;
        std::string name; ///< "<id>-XXXXXXXXXXXXXXXX", under tmp/.
        std::string path; ///< For TMPDIR only; never opened again by the server.
    };
    /// Creates tmp/<id>-<random> with mode 0700. On failure `err` is the errno.
    [[nodiscard]] std::optional<job_dir> make_job_dir(std::string_view id, int& err) const;
    /// Removes tmp/<name> and everything below it, never following a link. False if
    /// something stayed.
    bool remove_job_dir(std::string_view name) const noexcept;

    struct sweep_rules {
        std::time_t now = 0;
        unsigned ttl_s = 3600;             ///< Ended jobs older than this go.
        std::uint64_t max_bytes = 0;       ///< Then the oldest ended jobs go until the spool fits (0: no cap).
    };
    struct sweep_result {
        std::size_t jobs_removed = 0;
        std::size_t dirs_removed = 0;
        std::uint64_t bytes = 0;           ///< Disk space the spool's jobs use after the sweep.
    };
    /// Removes ended jobs by age, then by size (oldest first), and temp directories of jobs
    /// that are not live. `live(id)` says a job is still this server's business: never touched.
    sweep_result sweep(const sweep_rules& rules, const std::function<bool(std::string_view)>& live) const;

private:
    spool(std::string path, net::unique_fd dir, net::unique_fd tmp, spool_owner owner)
        : path_(std::move(path)), dir_(std::move(dir)), tmp_(std::move(tmp)), owner_(owner) {}
    static std::optional<spool> open_checked(const std::string& path, spool_owner owner, bool create,
                                             std::string& error);
    /// As root, hands a new file or directory to the owner.
    void give(int fd) const noexcept;

    std::string path_;
    net::unique_fd dir_;
    net::unique_fd tmp_;
    spool_owner owner_;
};

} // namespace ringfork::ipc

"""Supervised apps (--app): instances told PORT and RINGFORK_APP_INSTANCE, readiness and
health gating, refills after a crash, a hung instance killed with its process group, its
output in the log, rolling replacement on HUP and kill -9 of instances under load with no
failed request, nothing left after kill -9 of the master, and what ctl apps and /metrics
show. The apps are written on Node's http module and on Python's http.server."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import rftest
from proxy_helpers import (SUPERVISED_PY, SUPERVISED_JS, AppServer, AppStateDir, node_command, process_group_members, request)


def pid_of(body, who=rb"node"):
    m = re.match(rb"hello from " + who + rb" (\d+) instance (\d+)", body)
    assert m, body
    return int(m.group(1)), int(m.group(2))


def uid_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    return None


def hello_until(port, want, who=rb"node", tries=50):
    """GETs /hello until each (pid, instance) in `want` answered; the set seen."""
    seen = set()
    for _ in range(tries):
        r = request(port, "GET", "/hello")
        assert r.status == 200, (r.status, r.body)
        seen.add(pid_of(r.body, who))
        if want <= seen:
            break
    return seen


class Instances(unittest.TestCase):
    def test_node_instances_get_port_index_group_and_the_children_identity(self):
        # Run as nobody, like workers: the script is copied where nobody can read it.
        where = tempfile.mkdtemp(prefix="rf-app-js-")
        self.addCleanup(shutil.rmtree, where, True)
        script = shutil.copy(SUPERVISED_JS, where)
        os.chmod(where, 0o755)
        os.chmod(script, 0o644)
        args = ("--user", "nobody") if os.geteuid() == 0 else ()
        with AppServer(node_command(script), *args, instances=2, workers=2) as a:
            s = a.server
            ready = a.wait_ready(2)
            self.assertEqual([i["index"] for i in ready], [0, 1])
            seen = hello_until(s.port, {(i["pid"], i["index"]) for i in ready})
            self.assertEqual(seen, {(i["pid"], i["index"]) for i in ready})
            for i in ready:
                # Its own process group, not the master's; PORT as ctl apps shows it.
                self.assertEqual(os.getpgid(i["pid"]), i["pid"])
                self.assertNotEqual(os.getpgid(i["pid"]), os.getpgid(s.pid))
                if args:
                    self.assertEqual(uid_of(i["pid"]), 65534)
                line = s.wait_log(rf"app web\.{i['index']}: node app listening pid=(\d+) port=(\d+) instance=(\d+)")
                self.assertEqual((int(line.group(1)), int(line.group(2)), int(line.group(3))),
                                 (i["pid"], i["port"], i["index"]))
                # stderr too, a line cut at the log's limit, an escape byte made visible.
                s.wait_log(rf"app web\.{i['index']}: node app stderr instance={i['index']}$")
                s.wait_log(rf"app web\.{i['index']}: long:x{{4000,}} \[line cut\]$")
                s.wait_log(rf"app web\.{i['index']}: escape:\\x1b\[31mred$")
            # ctl apps: the table, and the requests each instance was sent (counted by the
            # workers, reported with their next snapshot).
            table = a.ctl("apps")
            self.assertEqual(table.returncode, 0, table.stderr)
            self.assertRegex(table.stdout, r"APP\s+INDEX\s+PID\s+PORT\s+GEN\s+STATE\s+UPTIME\s+REQUESTS\s+RESTARTS")
            for i in ready:
                self.assertRegex(table.stdout, rf"\nweb\s+{i['index']}\s+{i['pid']}\s+{i['port']}\s+1\s+ready\s")
            rftest.wait_until(lambda: sum(i["requests"] for i in a.instances()) >= len(seen), 5,
                              what="requests counted per instance")

    def test_python_app_answers_through_the_proxy(self):
        command = f"{rftest.program('python3')} {SUPERVISED_PY}"
        with AppServer(command, name="py") as a:
            [one] = a.wait_ready(1)
            r = request(a.server.port, "GET", "/hello")
            self.assertEqual(r.status, 200)
            self.assertEqual(pid_of(r.body, rb"python"), (one["pid"], 0))
            a.server.wait_log(rf"app py\.0: python app listening pid={one['pid']} port={one['port']} instance=0")
            a.server.wait_log(r"app py\.0: python app stderr instance=0")


class Health(AppStateDir, unittest.TestCase):
    def test_workers_wait_for_a_passing_health_check(self):
        self.touch("sick")
        with AppServer(node_command(), "--app-health", "web=/health", env={"APP_DIR": self.dir}, ready=False) as a:
            s = a.server
            s.wait_log(r"workers start once the apps' instances are ready")
            s.wait_log(r"app web\.0: node app listening")
            # Accepting is not enough with a health path: it answers 503, so no worker yet.
            rftest.wait_until(lambda: a.instances() and a.instances()[0]["state"] == "starting", 5,
                              what="the instance listed as starting")
            self.assertEqual(s.count_log(r"ready: \d+ workers serving"), 0)
            self.assertEqual(s.count_log(r"app web\.0 \(pid \d+\) ready"), 0)
            os.unlink(os.path.join(self.dir, "sick"))
            s.wait_log(r"app web\.0 \(pid \d+\) ready on 127\.0\.0\.1:\d+", 10)
            s.wait_log(r"ready: 1 workers serving", 10)
            port = int(s.wait_log(r"listening on 127\.0\.0\.1:(\d+) with").group(1))
            self.assertEqual(request(port, "GET", "/hello").status, 200)

    def test_a_hung_instance_is_killed_with_its_group_and_replaced(self):
        with AppServer(node_command(), "--app-health", "web=/health", "--app-health-timeout", "web=1",
                       "--app-stop-timeout", "web=1", env={"APP_DIR": self.dir}) as a:
            s = a.server
            [old] = a.wait_ready(1)
            helper = int(request(s.port, "GET", "/env").body.split(b'"child":')[1].rstrip(b"}"))
            self.assertEqual(os.getpgid(helper), old["pid"])
            # From now on it answers no health check and ignores TERM.
            self.assertEqual(request(s.port, "GET", "/hang").body, b"hanging")
            s.wait_log(rf"app web\.0 \(pid {old['pid']}\): no health check passed for 1000 ms", 10)
            s.wait_log(rf"app web\.0 \(pid {old['pid']}\) still running 1000 ms after TERM: KILL of its process group",
                       10)
            rftest.wait_until(lambda: not process_group_members(old["pid"]), 5, what="the hung group gone")
            self.assertFalse(rftest.alive(helper))
            [new] = a.wait_ready(1, exclude={old["pid"]})
            self.assertEqual(pid_of(request(s.port, "GET", "/hello").body), (new["pid"], 0))
            self.assertEqual(new["restarts"], 1)
            self.assertEqual(new["last_exit"], "signal 9 (Killed)")

    def test_an_exited_instance_is_replaced_with_backoff(self):
        with AppServer(node_command(), env={"APP_DIR": self.dir}) as a:
            s = a.server
            [first] = a.wait_ready(1)
            self.assertEqual(request(s.port, "GET", "/exit?code=3").body, b"bye")
            s.wait_log(rf"app web\.0 \(pid {first['pid']}\) ended with exit code 3 after [\d.]+ s; "
                       r"starting it again in 0 ms", 10)
            [second] = a.wait_ready(1, exclude={first["pid"]})
            self.assertEqual((second["restarts"], second["last_exit"]), (1, "exit code 3"))
            # A second end soon after its start waits longer (back-off), then it is refilled.
            os.kill(second["pid"], signal.SIGKILL)
            delay = int(s.wait_log(rf"app web\.0 \(pid {second['pid']}\) ended with signal 9 \(Killed\) after "
                                   r"[\d.]+ s; starting it again in (\d+) ms", 10).group(1))
            self.assertGreater(delay, 0)
            [third] = a.wait_ready(1, exclude={first["pid"], second["pid"]})
            self.assertEqual((third["restarts"], third["last_exit"]), (2, "signal 9 (Killed)"))
            self.assertEqual(pid_of(request(s.port, "GET", "/hello").body), (third["pid"], 0))


class UnderLoad(unittest.TestCase):
    """wrk -c128 through the proxy to a 2-instance Node app."""

    def start(self, a):
        # Long enough for any run; ended with SIGINT once the test is done (wrk then reports).
        # A response later than wrk's default 2 s counts as a socket error; on a loaded
        # 2-core machine that measures the machine, so the bound is 10 s: what is checked is
        # that no request fails.
        wrk = subprocess.Popen([rftest.program("wrk"), "-t1", "-c128", "-d120s", "--timeout", "10s",
                                f"http://127.0.0.1:{a.server.port}/hello"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(rftest.stop_wrk, wrk)
        rftest.wait_until(lambda: rftest.established(a.server.port) >= 128, 15, what="wrk's connections")
        return wrk

    def finish(self, wrk):
        wrk.send_signal(signal.SIGINT)
        result = rftest.wrk_result(wrk)
        self.assertGreater(result["requests"], 1000, result["output"])
        self.assertEqual(result["socket_errors_total"], 0, result["output"])
        self.assertEqual(result["non2xx"], 0, result["output"])
        return result

    def test_20_hups_replace_every_instance_and_fail_no_request(self):
        with AppServer(node_command(), instances=2) as a:
            s = a.server
            before = a.wait_ready(2)
            wrk = self.start(a)
            seen = {i["pid"] for i in before}
            for n in range(1, 21):
                s.signal(signal.SIGHUP)
                rftest.wait_until(lambda: s.count_log(r"app web: reload complete: 2 instances serving") >= n, 30,
                                  interval=0.05, what=f"app reload {n}")
                rftest.wait_until(lambda: s.count_log(r"] info: reload complete: 1 workers serving") >= n, 30,
                                  interval=0.05, what=f"worker reload {n}")
                now = a.wait_ready(2)
                pids = {i["pid"] for i in now}
                self.assertFalse(pids & seen, f"reload {n}: an instance was not replaced")
                seen |= pids
            self.finish(wrk)
            # Each old instance left only once every worker had reported it drained.
            self.assertEqual(s.count_log(r"did not report it drained"), 0)
            self.assertGreaterEqual(s.count_log(r"app web\.\d \(pid \d+\) drained: stopping it"), 40)

    def test_kill_9_of_an_instance_every_2_s_fails_no_get(self):
        with AppServer(node_command(), instances=2) as a:
            ready = a.wait_ready(2)
            wrk = self.start(a)
            killed = set()
            for n in range(5):
                started = time.monotonic()
                victim = ready[n % 2]["pid"]
                os.kill(victim, signal.SIGKILL)
                killed.add(victim)
                a.server.wait_log(rf"app web\.\d \(pid {victim}\) ended with signal 9", 10)
                ready = a.wait_ready(2, exclude=killed)
                # The pace the check asks for: one kill every 2 s (or slower, when a refill
                # took longer than that).
                time.sleep(max(0.0, 2.0 - (time.monotonic() - started)))
            self.finish(wrk)


class MasterKilled(unittest.TestCase):
    def test_kill_9_of_the_master_leaves_no_app_process(self):
        a = AppServer(node_command(), instances=2)
        self.addCleanup(a.stop)
        ready = a.wait_ready(2)
        groups = [i["pid"] for i in ready]
        helpers = []
        for _ in range(20):
            body = request(a.server.port, "GET", "/env").body
            helpers.append(int(body.split(b'"child":')[1].rstrip(b"}")))
        members = {p for g in groups for p in process_group_members(g)}
        self.assertTrue(set(groups) <= members and set(helpers) <= members, (groups, helpers, members))
        keepers = [int(p) for p in re.findall(r"keeper pid (\d+)", a.server.log())]
        self.assertEqual(len(keepers), 2)
        os.kill(a.server.pid, signal.SIGKILL)
        a.server.proc.wait(5)
        rftest.wait_until(lambda: not any(rftest.alive(p) for p in members | set(keepers)), 10,
                          what=f"no app process left (groups {groups})")
        for g in groups:
            self.assertEqual(process_group_members(g), [])


class Metrics(unittest.TestCase):
    def test_metrics_and_stats_have_the_upstream_and_its_instances(self):
        with AppServer(node_command(), "--admin", "127.0.0.1:0", instances=2) as a:
            s = a.server
            admin = int(s.wait_log(r"admin: http://127\.0\.0\.1:(\d+)/").group(1))
            a.wait_ready(2)
            for _ in range(10):
                self.assertEqual(request(s.port, "GET", "/hello").status, 200)
            self.assertEqual(request(s.port, "GET", "/nothing").status, 404)

            def counted():
                m = rftest.admin_get(admin, "/metrics")[1].decode()
                found = re.search(r'^ringfork_upstream_requests_total\{upstream="web"\} (\d+)$', m, re.M)
                return m if found and int(found.group(1)) >= 11 else None
            text = rftest.wait_until(counted, 5, what="upstream counters in /metrics")
            self.assertRegex(text, r'(?m)^ringfork_upstream_responses_total\{upstream="web",class="2xx"\} 10$')
            self.assertRegex(text, r'(?m)^ringfork_upstream_responses_total\{upstream="web",class="4xx"\} 1$')
            self.assertRegex(text, r'(?m)^ringfork_upstream_response_seconds_count\{upstream="web"\} 11$')
            self.assertRegex(text, r'(?m)^ringfork_upstream_response_seconds_bucket\{upstream="web",le="\+Inf"\} 11$')
            self.assertRegex(text, r'(?m)^ringfork_app_instances\{app="web",state="ready"\} 2$')
            stats = rftest.admin_stats(admin)
            self.assertEqual(stats["upstreams"]["web"]["requests"], 11)
            self.assertEqual(sorted(i["index"] for i in stats["apps"]), [0, 1])
            self.assertEqual(sum(i["requests"] for i in stats["apps"]), 11)


if __name__ == "__main__":
    rftest.main()

#!/usr/bin/env python3
"""A restart-test target: records every signal it gets, with a wall-clock
timestamp, grows its memory, and (optionally) serves the heap-dump socket
with a small valid gzip "profile", recording when it served one.

usage: restart_target.py NAME LOG [--socket PATH] [--leak-mb-per-sec N]
                         [--exit-on SIG[,SIG]] [--stop-leak-after S]

NAME becomes the process's comm (so BINARY_NAME=NAME finds it). LOG gets
one line per happening: "<unix seconds> <what>", what = a signal name
(TERM, TSTP, CONT, ...), "dump-served", "ready" or "exit". A signal listed
in --exit-on makes the process exit 0 after recording it (a graceful stop).
"""

import ctypes
import gzip
import os
import signal
import socket
import sys
import threading
import time

RECORDED = ["HUP", "INT", "QUIT", "USR1", "USR2", "TERM", "TSTP", "CONT", "TTIN", "TTOU", "WINCH", "ALRM"]


def main():
    name, log_path = sys.argv[1], sys.argv[2]
    opts = dict(zip(sys.argv[3::2], sys.argv[4::2]))
    log = open(log_path, "a", buffering=1)
    lock = threading.RLock()  # a handler may run inside another

    def record(what):
        # No fsync: the test reads the log on this machine (the page cache
        # serves it), and an fsync stalled behind a busy disk held up the
        # handlers of later signals, so their times (bursts) were off and
        # a repeated signal pending meanwhile (CONT) was merged into one.
        with lock:
            log.write(f"{time.time():.6f} {what}\n")
            log.flush()

    exit_on = {s.strip().upper() for s in opts.get("--exit-on", "").split(",") if s.strip()}

    exiting = []

    def on_signal(sig, _frame):
        what = signal.Signals(sig).name[3:]
        record(what)
        if what in exit_on:
            # Exit from the main loop, once every signal already pending
            # (they are handled lowest number first) has been recorded.
            exiting.append(what)

    for s in RECORDED:
        signal.signal(getattr(signal, "SIG" + s), on_signal)

    sock_path = opts.get("--socket")
    if sock_path:
        try:
            os.unlink(sock_path)
        except FileNotFoundError:
            pass
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(sock_path)
        srv.listen(4)
        profile = gzip.compress(b"heap_v2/524288\n  t*: 1: 1024 [0: 0]\n" * 100)

        def serve():
            while True:
                conn, _ = srv.accept()
                with conn:
                    req = conn.recv(64)
                    if req.startswith(b"dump"):
                        conn.sendall(profile)
                        record("dump-served")

        threading.Thread(target=serve, daemon=True).start()

    # Named only now: the monitor finds it by this name, and by then the
    # socket already answers.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    rate = float(opts.get("--leak-mb-per-sec", "0"))
    stop_after = float(opts.get("--stop-leak-after", "1e9"))
    chunk = int(rate * (1 << 20) / 10)
    hoard = []
    start = time.monotonic()
    record("ready")
    print(f"restart-target pid={os.getpid()}", flush=True)
    while True:
        if exiting:
            record("exit")
            os._exit(0)
        if chunk and time.monotonic() - start < stop_after:
            hoard.append(b"\x01" * chunk)  # every page written
        time.sleep(0.1)


if __name__ == "__main__":
    main()

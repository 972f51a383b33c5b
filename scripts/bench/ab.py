#!/usr/bin/python3
"""Compare two fetchpool binaries side by side on the bench nginx.

    scripts/bench/nginx.sh start /tmp/ngx 18080
    scripts/bench/ab.py OLD_BINARY NEW_BINARY [--port 18080] [--runs 5]
    scripts/bench/nginx.sh stop /tmp/ngx

Runs each case RUNS times, alternating old and new (old, new, old, new...)
so that load drifts hit both alike, and prints medians: wall, requests/s,
client CPU (user + sys from /usr/bin/time) per request and, when perf is
installed, context switches per request. Every loop is bounded: a fixed
number of runs, and each run is killed after 120 s.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile


def url_list(path, port, fmt, n):
    with open(path, "w") as f:
        for i in range(n):
            f.write(("http://127.0.0.1:%d" % port) + fmt.format(i=i) + "\n")
    return path


def one_run(binary, args, urls, use_perf):
    cmd = ["timeout", "-k", "5", "120"]
    if use_perf:
        cmd += ["perf", "stat", "-x,", "-e", "context-switches"]
    cmd += ["/usr/bin/time", "-f", "TIME %e %U %S %M", binary, "-q", "--no-progress",
            "-o", "/dev/null"] + args + [urls]
    p = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", p.stderr)
    if not m:
        sys.exit("no timing from: %s\n%s" % (" ".join(cmd), p.stderr[-2000:]))
    switches = None
    for line in p.stderr.splitlines():
        if line.endswith("context-switches") or ",context-switches" in line:
            field = line.split(",")[0]
            switches = int(field) if field.isdigit() else None
    return {"wall": float(m[1]), "cpu": float(m[2]) + float(m[3]), "rss_kib": int(m[4]),
            "switches": switches, "status": p.returncode}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--runs", type=int, default=5)
    o = ap.parse_args()
    use_perf = shutil.which("perf") is not None
    tmp = tempfile.mkdtemp(prefix="fp-ab-")
    tiny = url_list(os.path.join(tmp, "tiny.txt"), o.port, "/tiny", 20000)
    lat = url_list(os.path.join(tmp, "lat.txt"), o.port, "/sleep/0.1?{i}", 2000)
    sleep1 = url_list(os.path.join(tmp, "sleep1.txt"), o.port, "/sleep/1?{i}", 6000)
    cases = [
        ("tiny, N=64, threads", ["-t", "64"], tiny, 20000),
        ("tiny, N=512, threads", ["-t", "512"], tiny, 20000),
        ("tiny, N=64, multi", ["--engine", "multi", "-t", "64"], tiny, 20000),
        ("100 ms, N=500, threads", ["-t", "500"], lat, 2000),
        ("6,000 x 1 s on 10,000 threads", ["-t", "10000"], sleep1, 6000),
    ]
    for name, args, urls, n in cases:
        res = {"old": [], "new": []}
        for _ in range(o.runs):
            for which in ("old", "new"):
                res[which].append(one_run(getattr(o, which), args, urls, use_perf))
        cols = []
        for which in ("old", "new"):
            runs = res[which]
            wall = statistics.median(r["wall"] for r in runs)
            cpu = statistics.median(r["cpu"] for r in runs)
            text = "%s: wall %.3f s, %.0f req/s, CPU %.1f us/req" % (
                which, wall, n / wall, cpu * 1e6 / n)
            sw = [r["switches"] for r in runs if r["switches"] is not None]
            if sw:
                text += ", %.2f switches/req" % (statistics.median(sw) / n)
            failed = sum(1 for r in runs if r["status"] != 0)
            if failed:
                text += ", %d runs failed" % failed
            cols.append(text)
        print("%s | %s" % (name, " | ".join(cols)), flush=True)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The politeness benchmark of issue 18, run by scripts/bench/politeness.sh.

Runs build/fetchpool against build/fp-testserver (its /cap and /cooldown
routes, distinct hosts h1.test ... h8.test through --resolve) and against
the bench nginx (target 8), one cell per target and configuration: fixed
-t N against -t auto where it applies. Each run gets a fresh test server
(so its counters are the run's) and a time limit. Records are read from
fetchpool's standard output as they come, each stamped with its arrival
time: a job ended then and started elapsed_ms earlier, which gives per-host
spans and throughput per second without fetchpool's help.

Writes to OUT: runs.csv (every run), hosts.csv (every host of every run),
starts.csv (target 3: request starts per second per host, at the server),
t6.csv (target 6: capacity, limit and throughput per second; t6-capacity.csv
its schedule), results.md,
politeness.png (gnuplot, when installed) and logs/.

Environment: see politeness.sh.
"""
import csv
import json
import math
import os
import select
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD", "build")
FP = os.path.join(ROOT, BUILD, "fetchpool")
SERVER = os.path.join(ROOT, BUILD, "fp-testserver")
QUICK = os.environ.get("QUICK", "0") not in ("", "0", "no", "false")
OUT = os.path.abspath(os.environ.get("OUT", "bench/results-politeness"))
NGINX = os.environ.get("NGINX_BASE", "")  # http://127.0.0.1:PORT, from politeness.sh
BASE_FP = os.environ.get("BASE_FP", "")    # another build's fetchpool, for target 8's CPU
TMO = float(os.environ.get("TMO", "60" if QUICK else "300"))
BUDGET = float(os.environ.get("BUDGET", "300" if QUICK else "5400"))
THREADS = [int(x) for x in os.environ.get("THREADS", "16 64" if QUICK else "4 16 64 256").split()]
TARGETS = [int(x) for x in os.environ.get("TARGETS", "1 2 3 4 5 6 7 8 9").split()]
ENGINES = os.environ.get("ENGINES", "threads").split()
NA = "n/a: option missing in this build"


def scaled(full, quick):
    return quick if QUICK else full


# sizes (full, QUICK)
T1_SLOW = scaled(40, 20)           # slow-host jobs; 10 fast jobs for each
T2_COOL, T2_FAST = scaled(100, 50), scaled(400, 200)
T3_PER_HOST = scaled(250, 100)     # jobs per host, 8 hosts
T45_JOBS = scaled(2000, 400)
T6_JOBS, T6_STEP = scaled(4000, 2000), scaled(3.0, 1.5)
T7_PER_HOST = scaled(500, 200)
T8_TINY, T8_SLEEP = scaled(20000, 5000), scaled(10000, 2000)
T9_JOBS = scaled(2000, 600)        # through Redis to 3 workers

started = time.monotonic()
os.makedirs(os.path.join(OUT, "logs"), exist_ok=True)
os.makedirs(os.path.join(OUT, "jobs"), exist_ok=True)
no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def log(msg):
    print(f"[politeness {time.monotonic() - started:5.0f}s] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- test server
def stop_process(p):
    """Terminate p, and kill it if it is still there 10 s later."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Server:
    """A fresh build/fp-testserver on an ephemeral loopback port."""

    def __init__(self):
        self.p = subprocess.Popen([SERVER], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  stdin=subprocess.DEVNULL, text=True)
        ready, _, _ = select.select([self.p.stdout], [], [], 10)
        line = self.p.stdout.readline() if ready else ""
        if not line:
            self.stop()
            raise RuntimeError("fp-testserver did not start")
        self.port = int(line.split()[0])

    def url(self, host, path):
        return f"http://{host}:{self.port}{path}"

    def resolve(self, hosts):
        args = []
        for h in hosts:
            args += ["--resolve", f"{h}:{self.port}:127.0.0.1"]
        return args

    def get(self, path):
        with no_proxy.open(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return r.read().decode()

    def json(self, path):
        return json.loads(self.get(path))

    def stop(self):
        stop_process(self.p)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ---------------------------------------------------------------- options
HELP = subprocess.run([FP, "--help"], capture_output=True, text=True, timeout=20).stdout


def probe(args):
    """True when fetchpool runs one job with these options (exit 0)."""
    with Server() as srv:
        try:
            r = subprocess.run([FP, "-q", *args, srv.url("127.0.0.1", "/hello")],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        except subprocess.TimeoutExpired:
            return False
        return r.returncode == 0


HAS = {
    "auto": probe(["-t", "auto"]),
    "max-threads": probe(["-t", "auto", "--max-threads", "8"]) or probe(["--max-threads", "8"]),
    "per-host-rate": probe(["--per-host-rate", "5"]),
    "no-host-cooldown": probe(["--no-host-cooldown"]),
}
HAS_HELP = {k: f"--{k}" in HELP for k in HAS}
HAS_HELP["auto"] = any(x in HELP for x in ("-t auto", "--threads auto", "N|auto", "auto|N"))
log("options in this build: " + ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in HAS.items()))
if "--engine" not in HELP:
    ENGINES = ["threads"]


def configs(threads=None, auto_extra=(), per_engine=True):
    """(label, args or None when missing) for fixed -t N and auto."""
    out = []
    for e in (ENGINES if per_engine else ["threads"]):
        eng = [] if e == "threads" else ["--engine", e]
        sfx = "" if e == "threads" else f" ({e})"
        for n in (threads or THREADS):
            out.append((f"-t {n}{sfx}", ["-t", str(n), *eng]))
        ok = HAS["auto"] and all(HAS.get(x.lstrip("-"), True) for x in auto_extra if x.startswith("--"))
        out.append((f"-t auto{sfx}" + (" " + " ".join(auto_extra) if auto_extra else ""),
                    ["-t", "auto", *auto_extra, *eng] if ok else None))
    return out


# ---------------------------------------------------------------- one run
def quantile(values, q):
    if not values:
        return None
    v = sorted(values)
    return v[max(0, math.ceil(q * len(v)) - 1)]


def run(tag, args, urls, stats_json=False, fp=FP):
    """Run fetchpool on urls with args; returns a dict of what was seen."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in tag)
    jobs = os.path.join(OUT, "jobs", safe + ".txt")
    with open(jobs, "w") as f:
        f.write("\n".join(urls) + "\n")
    stats = os.path.join(OUT, "logs", safe + ".stats.json")
    cmd = [fp, "--no-progress", *args]
    if stats_json:
        cmd += ["--stats-json", stats]
    cmd.append(jobs)
    with open(os.path.join(OUT, "logs", safe + ".cmd"), "w") as f:
        f.write(" ".join(cmd) + "\n")
    errf = open(os.path.join(OUT, "logs", safe + ".stderr"), "w")
    lines = []
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errf)

    def reader():
        for line in p.stdout:
            lines.append((time.monotonic() - t0, line))

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    status, ru, timed_out = None, None, False
    while status is None:
        pid, st, r = os.wait4(p.pid, os.WNOHANG)
        if pid:
            status, ru = st, r
            break
        if time.monotonic() - t0 > TMO:
            timed_out = True
            p.kill()
            _, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.01)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    th.join(10)
    p.stdout.close()
    errf.close()
    recs = []
    for t, line in lines:
        try:
            r = json.loads(line)
        except ValueError:
            continue
        el = float(r.get("elapsed_ms") or 0) / 1000
        recs.append({"host": urlsplit(r.get("url", "")).hostname or "", "end": t, "start": t - el,
                     "ms": el * 1000, "ok": bool(r.get("ok")), "status": r.get("status"),
                     "attempts": int(r.get("attempts") or 0)})
    res = {"tag": tag, "rc": "timeout" if timed_out else p.returncode, "wall": wall,
           "jobs": len(urls), "records": len(recs), "ok": sum(r["ok"] for r in recs),
           "cpu_us": (ru.ru_utime + ru.ru_stime) * 1e6 / max(1, len(recs)) if ru else None,
           "median": quantile([r["ms"] for r in recs], 0.5), "p99": quantile([r["ms"] for r in recs], 0.99),
           "extra": sum(max(0, r["attempts"] - 1) for r in recs), "recs": recs, "stats": None}
    if stats_json and os.path.exists(stats):
        try:
            with open(stats) as f:
                res["stats"] = json.load(f)
        except ValueError:
            pass
    res["hosts"] = {}
    for h in sorted({r["host"] for r in recs}):
        hr = [r for r in recs if r["host"] == h]
        res["hosts"][h] = {"jobs": len(hr), "ok": sum(r["ok"] for r in hr),
                           "span": max(r["end"] for r in hr) - min(r["start"] for r in hr),
                           "median": quantile([r["ms"] for r in hr], 0.5),
                           "p99": quantile([r["ms"] for r in hr], 0.99)}
    log(f"{tag}: rc {res['rc']}, {res['ok']}/{len(urls)} ok, wall {wall:.2f} s")
    return res


def host_limits(res, host_prefix):
    """limit_samples of the stats-json host whose name starts with host_prefix."""
    for h in (res.get("stats") or {}).get("hosts") or []:
        if str(h.get("host", "")).startswith(host_prefix):
            return h.get("limit_samples")
    return None


# ---------------------------------------------------------------- output
RUNS_CSV = os.path.join(OUT, "runs.csv")
HOSTS_CSV = os.path.join(OUT, "hosts.csv")
with open(RUNS_CSV, "w", newline="") as f:
    csv.writer(f).writerow(["target", "row", "tag", "rc", "jobs", "records", "ok", "wall_s", "median_ms",
                            "p99_ms", "extra_requests", "cpu_us_per_req", "note"])
with open(HOSTS_CSV, "w", newline="") as f:
    csv.writer(f).writerow(["target", "row", "tag", "host", "jobs", "ok", "span_s", "median_ms", "p99_ms"])
md = []   # results.md body
skipped = []


def f1(v, nd=2):
    return "" if v is None else f"{v:.{nd}f}"


def record(target, row, res, note=""):
    with open(RUNS_CSV, "a", newline="") as f:
        csv.writer(f).writerow([target, row, res["tag"], res["rc"], res["jobs"], res["records"], res["ok"],
                                f1(res["wall"], 3), f1(res["median"], 1), f1(res["p99"], 1), res["extra"],
                                f1(res["cpu_us"], 1), note])
    with open(HOSTS_CSV, "a", newline="") as f:
        w = csv.writer(f)
        for h, v in res["hosts"].items():
            w.writerow([target, row, res["tag"], h, v["jobs"], v["ok"], f1(v["span"], 3),
                        f1(v["median"], 1), f1(v["p99"], 1)])


def over_budget():
    return time.monotonic() - started > BUDGET


def table(title, intro, head, rows):
    md.append(f"### {title}\n")
    if intro:
        md.append(intro + "\n")
    md.append("| " + " | ".join(head) + " |")
    md.append("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        md.append("| " + " | ".join(str(x) for x in r) + " |")
    md.append("")


def missing_row(label, ncols):
    return [label, NA] + [""] * (ncols - 2)


def budget_row(label, ncols):
    skipped.append(label)
    return [label, "skipped: time budget"] + [""] * (ncols - 2)


def runnable(cf, rows, ncols):
    """The (label, args) of cf to run now; rows gets a row for each of the
    others (option missing in this build, or past the time budget)."""
    for label, args in cf:
        if args is None:
            rows.append(missing_row(label, ncols))
        elif over_budget():
            rows.append(budget_row(label, ncols))
        else:
            yield label, args


def ok_text(res):
    return f"{res['ok']}/{res['jobs']}" + ("" if res["rc"] != "timeout" else " (timeout)")


# ---------------------------------------------------------------- targets
def target1():
    head = ["row", "wall s", "fast span mixed s", "fast span alone s", "ratio (<= 1.2)",
            "slow host max in flight", "ok"]
    rows = []
    for label, args in runnable(configs(), rows, len(head)):
        a = [*args, "--per-host", "2"]
        with Server() as srv:
            fast = srv.url("h2.test", "/cap/t1fast?c=100000&ms=20")
            alone = run(f"t1 {label} alone", [*a, *srv.resolve(["h2.test"])], [fast] * (10 * T1_SLOW))
        with Server() as srv:
            slow = srv.url("h1.test", "/cap/t1slow?c=100000&ms=200")
            fast = srv.url("h2.test", "/cap/t1fast?c=100000&ms=20")
            urls = ([fast] * 10 + [slow]) * T1_SLOW
            mixed = run(f"t1 {label} mixed", [*a, *srv.resolve(["h1.test", "h2.test"])], urls)
            slow_max = srv.json("/cap-stats/t1slow")["max_inflight"]
        record(1, label + " alone", alone)
        record(1, label + " mixed", mixed, f"slow max_inflight {slow_max}")
        sm = mixed["hosts"].get("h2.test", {}).get("span")
        sa = alone["hosts"].get("h2.test", {}).get("span")
        rows.append([label + " --per-host 2", f1(mixed["wall"]), f1(sm), f1(sa),
                     f1(sm / sa if sm and sa else None), slow_max, ok_text(mixed)])
    table("Target 1: one slow host does not hold the others back",
          f"{T1_SLOW} jobs of 200 ms to h1 and {10 * T1_SLOW} of 20 ms to h2, one in eleven slow, "
          "`--per-host 2`; the fast host's span (first start to last end, from the records) "
          "against the same options on the fast jobs alone. Target: ratio <= 1.2, the slow "
          "host's limit holds (max in flight 2), every job ok.", head, rows)


def target2():
    head = ["row", "wall s", "429s after the first", "429s in all", "bound: in flight (N)",
            "fast span mixed s", "fast span alone s", "ratio (<= 1.2)", "ok"]
    rows = []
    cf = configs()
    if HAS["no-host-cooldown"]:
        cf.append(("-t 16 --no-host-cooldown", ["-t", "16", "--no-host-cooldown"]))
    for label, args in runnable(cf, rows, len(head)):
        a = [*args, "--retries", "3"]
        with Server() as srv:
            fast = srv.url("h2.test", "/cap/t2fast?c=100000&ms=20")
            alone = run(f"t2 {label} alone", [*a, *srv.resolve(["h2.test"])], [fast] * T2_FAST)
        with Server() as srv:
            cool = srv.url("h1.test", f"/cooldown/t2?after={T2_COOL // 5}&secs=2&ms=50")
            fast = srv.url("h2.test", "/cap/t2fast?c=100000&ms=20")
            per = T2_FAST // T2_COOL
            urls = ([fast] * per + [cool]) * T2_COOL
            mixed = run(f"t2 {label} mixed", [*a, *srv.resolve(["h1.test", "h2.test"])], urls)
            cs = srv.json("/cooldown-stats/t2")
        record(2, label + " alone", alone)
        record(2, label + " mixed", mixed, f"cooldown {json.dumps(cs)}")
        sm = mixed["hosts"].get("h2.test", {}).get("span")
        sa = alone["hosts"].get("h2.test", {}).get("span")
        n = args[args.index("-t") + 1]
        rows.append([label, f1(mixed["wall"]), cs["in_window"], cs["rejected"], n, f1(sm), f1(sa),
                     f1(sm / sa if sm and sa else None), ok_text(mixed)])
    table("Target 2: a host that says wait is waited for",
          f"{T2_COOL} jobs to h1 (`/cooldown`: held 50 ms; after {T2_COOL // 5} oks one 429 with "
          f"Retry-After: 2 opens a 2 s window of 429s) and {T2_FAST} of 20 ms to h2, `--retries 3`. "
          "429s after the first: answered in the window (at the server). Target: <= the requests "
          "in flight to h1 when the first came (at most N), the fast host's span <= 1.2 x alone.",
          head, rows)


def target3():
    head = ["row", "wall s", "req/s", "of 400/s (>= 0.95)", "most starts in one second, any host (<= 50)",
            "ok"]
    rows = []
    cf = [(f"{lbl} --per-host-rate 50", None if a is None or not HAS["per-host-rate"]
           else [*a, "--per-host-rate", "50"]) for lbl, a in configs()]
    cf.append(("-t 64 --rate 400 (global, for comparison)", ["-t", "64", "--rate", "400"]))
    hosts = [f"h{i}.test" for i in range(1, 9)]
    with open(os.path.join(OUT, "starts.csv"), "w", newline="") as sf:
        sw = csv.writer(sf)
        sw.writerow(["row", "host", "second", "starts"])
        for label, args in runnable(cf, rows, len(head)):
            with Server() as srv:
                urls = [srv.url(h, f"/cap/t3{h.split('.')[0]}?c=100000&ms=5") for h in hosts] * T3_PER_HOST
                res = run(f"t3 {label}", [*args, *srv.resolve(hosts)], urls)
                worst = 0
                for h in hosts:
                    st = srv.json(f"/cap-stats/t3{h.split('.')[0]}")["starts"]
                    for i, v in enumerate(st):
                        sw.writerow([label, h, i, v])
                    worst = max([worst, *st])
            record(3, label, res, f"max starts/s {worst}")
            rate = res["ok"] / res["wall"] if res["wall"] else 0
            rows.append([label, f1(res["wall"]), f1(rate, 0), f1(rate / 400), worst, ok_text(res)])
    table("Target 3: a rate per host",
          f"8 hosts, {T3_PER_HOST} jobs each (5 ms), round robin. Starts per second per host are "
          "counted at the server in whole seconds from each host's first request (starts.csv).",
          head, rows)


def no_load():
    """Median latency of the capacity route alone (c=16, 50 ms), -t 1."""
    with Server() as srv:
        res = run("no-load 50ms", ["-t", "1"], [srv.url("127.0.0.1", "/cap/nl?c=16&ms=50")] * 20)
    record(0, "no-load -t 1", res)
    return res["median"]


def capacity_target(n, title, intro, route, extra_args, base_label="-t 16"):
    head = ["row", "wall s", "/ -t 16", "median ms", "p99 ms", "median / no-load", "429s",
            "429s / requests", "extra requests", "server max in flight", "ok"]
    rows, walls = [], {}
    nl = no_load()
    for label, args in runnable(configs(), rows, len(head)):
        with Server() as srv:
            res = run(f"t{n} {label}", [*args, *extra_args], [srv.url("127.0.0.1", route)] * T45_JOBS)
            st = srv.json(f"/cap-stats/t{n}")
        record(n, label, res, f"server {json.dumps({k: st[k] for k in ('served', 'shed', 'max_inflight')})}")
        walls[label] = res["wall"]
        sent = st["served"] + st["shed"]
        rows.append([label, f1(res["wall"]), "", f1(res["median"], 1), f1(res["p99"], 1),
                     f1(res["median"] / nl if res["median"] and nl else None), st["shed"],
                     f1(st["shed"] / sent if sent else None, 3), res["extra"], st["max_inflight"],
                     ok_text(res)])
    base = walls.get(base_label)
    for r in rows:
        if r[0] in walls and base:
            r[2] = f1(walls[r[0]] / base)
    table(title, intro + f" No-load latency (`-t 1`, 20 jobs): median {f1(nl, 1)} ms.", head, rows)


def target4():
    capacity_target(4, "Target 4: a queueing API (capacity 16, 50 ms)",
                    f"{T45_JOBS} jobs to `/cap/t4?c=16&ms=50` (beyond 16 they queue). Target: auto's wall "
                    "<= 1.10 x `-t 16`'s, median <= 1.5 x the no-load latency.",
                    "/cap/t4?c=16&ms=50", [])


def target5():
    capacity_target(5, "Target 5: a shedding API (429 beyond capacity 16)",
                    f"{T45_JOBS} jobs to `/cap/t5?c=16&ms=50&mode=shed` (no Retry-After), `--retries 8`. "
                    "429s from the server's count. Target: auto's wall <= 1.15 x `-t 16`'s, 429s <= 5 % "
                    "of requests sent, every job ok.",
                    "/cap/t5?c=16&ms=50&mode=shed", ["--retries", "8"])


def t6_ideal(step, jobs):
    """Wall of the ideal client: always exactly at capacity (32, 8, 32 at 20/s a slot)."""
    t, done = 0.0, 0.0
    for c, until in ((32, step), (8, 2 * step), (32, None)):
        rate = c / 0.05
        if until is None or done + rate * (until - t) >= jobs:
            return t + (jobs - done) / rate
        done += rate * (until - t)
        t = until


def target6():
    step = T6_STEP
    sched = f"{step:g}:8,{2 * step:g}:32"
    route = f"/cap/t6?c=32&ms=50&mode=shed&sched={sched}"
    ideal = t6_ideal(step, T6_JOBS)
    head = ["row", "wall s", "/ ideal (<= 1.25)", "429s", "429s / requests", "limit at change+1 s",
            "within 25 %", "ok"]
    rows, series = [], {}
    cf = configs(threads=sorted(set(THREADS) | {8, 32}))
    for label, args in runnable(cf, rows, len(head)):
        with Server() as srv:
            res = run(f"t6 {label}", [*args, "--retries", "8", *srv.resolve(["h1.test"])],
                      [srv.url("h1.test", route)] * T6_JOBS, stats_json=True)
            st = srv.json("/cap-stats/t6")
        record(6, label, res, f"server {json.dumps({k: st[k] for k in ('served', 'shed', 'max_inflight')})}")
        sent = st["served"] + st["shed"]
        per_s = [0] * (int(res["wall"]) + 2)
        for r in res["recs"]:
            if r["ok"]:
                per_s[min(int(r["end"]), len(per_s) - 1)] += 1
        lim = host_limits(res, "h1.test")
        series[label] = (per_s, lim)
        if lim:
            # sample i is taken i seconds into the run
            at = [lim[k] if len(lim) > k else None
                  for k in (math.ceil(step + 1), math.ceil(2 * step + 1))]
            within = all(v is not None and abs(v - c) <= 0.25 * c for v, c in zip(at, (8, 32)))
            lim_txt, within_txt = " / ".join("?" if v is None else str(v) for v in at), \
                ("yes" if within else "no")
        else:
            lim_txt = within_txt = "" if "auto" not in label else "n/a: no hosts limit_samples in --stats-json"
        rows.append([label, f1(res["wall"]), f1(res["wall"] / ideal), st["shed"],
                     f1(st["shed"] / sent if sent else None, 3), lim_txt, within_txt, ok_text(res)])
    table("Target 6: a capacity that changes (32, 8 from %gs, 32 from %gs; shedding)" % (step, 2 * step),
          f"{T6_JOBS} jobs to `{route}`, `--retries 8`; ideal wall {ideal:.2f} s (always at capacity). "
          "The limit is the host's `limit_samples` of `--stats-json` (one a second); throughput "
          "per second from the records (t6.csv, politeness.png). Target: wall <= 1.25 x ideal, "
          "429s <= 10 %, the limit within 25 % of the new capacity 1 s after each change.",
          head, rows)
    # t6.csv and the plot
    secs = max([len(p) for p, _ in series.values()] + [1])
    labels = list(series)
    with open(os.path.join(OUT, "t6.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["second", "capacity"] + [f"ok/s {lb}" for lb in labels] + [f"limit {lb}" for lb in labels])
        for s in range(secs):
            cap = 32 if s < step or s >= 2 * step else 8
            row = [s, cap]
            row += [series[lb][0][s] if s < len(series[lb][0]) else "" for lb in labels]
            row += [series[lb][1][s] if series[lb][1] and s < len(series[lb][1]) else "" for lb in labels]
            w.writerow(row)
    with open(os.path.join(OUT, "t6-capacity.csv"), "w", newline="") as f:
        csv.writer(f).writerows([[0, 32], [step, 8], [2 * step, 32], [max(secs, 2 * step + 1), 32]])
    plot(labels, step)


def plot(labels, step):
    if not shutil.which("gnuplot"):
        log("gnuplot missing: no politeness.png")
        return
    n = len(labels)
    cairo = subprocess.run(["gnuplot", "-e", "set terminal pngcairo"], capture_output=True,
                           timeout=30).returncode == 0
    cmds = [
        f'set terminal {"pngcairo" if cairo else "png"} size 1000,560',
        f'set output "{os.path.join(OUT, "politeness.png")}"',
        'set datafile separator ","',
        'set key outside right top',
        'set xlabel "seconds from the start"',
        'set ylabel "in-flight limit, capacity"',
        'set y2label "jobs ok per second"',
        'set ytics nomirror', 'set y2tics', 'set yrange [0:*]', 'set y2range [0:*]',
        f'set title "Target 6: capacity 32, 8 from {step:g} s, 32 from {2 * step:g} s (shedding)"',
    ]
    parts = ['"t6-capacity.csv" using 1:2 with steps lw 3 lc rgb "black" title "capacity" axes x1y1']
    for i, lb in enumerate(labels):
        if "auto" in lb or lb.startswith("-t 32") or lb.startswith("-t 8"):
            parts.append(f'"t6.csv" using 1:{3 + i} with lines title "ok/s {lb}" axes x1y2')
        if "auto" in lb:
            parts.append(f'"t6.csv" using 1:{3 + n + i} with linespoints title "limit {lb}" axes x1y1')
    cmds.append("plot " + ", ".join(parts))
    with open(os.path.join(OUT, "politeness.gp"), "w") as f:
        f.write("\n".join(cmds) + "\n")
    r = subprocess.run(["gnuplot", "politeness.gp"], cwd=OUT, capture_output=True, text=True, timeout=60)
    if r.returncode:
        log("gnuplot failed: " + r.stderr.strip()[:300])


def target7():
    head = ["row", "wall s", "h1 (c=4) median / p99 ms", "h2 (c=32) median / p99 ms",
            "median / no-load h1, h2 (<= 1.5)", "max in flight h1 / h2", "ok"]
    rows = []
    nl = no_load()
    for label, args in runnable(configs(), rows, len(head)):
        with Server() as srv:
            a = srv.url("h1.test", "/cap/t7slow?c=4&ms=50")
            b = srv.url("h2.test", "/cap/t7fast?c=32&ms=50")
            res = run(f"t7 {label}", [*args, *srv.resolve(["h1.test", "h2.test"])], [a, b] * T7_PER_HOST)
            m1 = srv.json("/cap-stats/t7slow")["max_inflight"]
            m2 = srv.json("/cap-stats/t7fast")["max_inflight"]
        record(7, label, res, f"max_inflight {m1} / {m2}")
        h1, h2 = res["hosts"].get("h1.test", {}), res["hosts"].get("h2.test", {})
        rows.append([label, f1(res["wall"]), f"{f1(h1.get('median'), 1)} / {f1(h1.get('p99'), 1)}",
                     f"{f1(h2.get('median'), 1)} / {f1(h2.get('p99'), 1)}",
                     f"{f1(h1['median'] / nl if h1.get('median') and nl else None)}, "
                     f"{f1(h2['median'] / nl if h2.get('median') and nl else None)}",
                     f"{m1} / {m2}", ok_text(res)])
    table("Target 7: two hosts, capacities 4 and 32",
          f"{T7_PER_HOST} jobs to each (queueing, 50 ms), alternating. No-load latency {f1(nl, 1)} ms. "
          "Target: each host's median <= 1.5 x no-load; h2 not held to h1's limit.", head, rows)


def target8():
    head = ["row", "workload", "jobs", "wall s", "req/s", "ratio", "CPU µs/req", "ok"]
    rows = []
    if not NGINX:
        table("Target 8: nothing to find (nginx)", "not run: no bench nginx (NGINX_BASE unset).", head, [])
        return
    cells = [("tiny", f"{NGINX}/tiny", T8_TINY, 64), ("100ms", f"{NGINX}/sleep/0.1", T8_SLEEP, 500)]
    for wl, url, jobs, mx in cells:
        base = None
        cf = [(f"-t {mx}", ["-t", str(mx)])]
        if BASE_FP:
            cf.append((f"-t {mx} (BASE_FP)", ["-t", str(mx)]))
        cf.append((f"-t auto --max-threads {mx}",
                   ["-t", "auto", "--max-threads", str(mx)] if HAS["auto"] and HAS["max-threads"] else None))
        for label, args in cf:
            if args is None:
                rows.append([label, wl, jobs, NA, "", "", "", ""])
                continue
            if over_budget():
                skipped.append(f"t8 {label} {wl}")
                rows.append([label, wl, jobs, "skipped: time budget", "", "", "", ""])
                continue
            res = run(f"t8 {wl} {label}", args, [url] * jobs, fp=BASE_FP if "BASE_FP" in label else FP)
            record(8, f"{label} {wl}", res)
            rate = res["ok"] / res["wall"] if res["wall"] else 0
            if wl == "tiny":
                base = base or rate
                ratio = f"{rate / base:.2f} of -t {mx}"
            else:
                ideal = jobs / mx * 0.1
                ratio = f"{res['wall'] / ideal:.2f} of ideal {ideal:.1f} s"
            rows.append([label, wl, jobs, f1(res["wall"]), f1(rate, 0), ratio, f1(res["cpu_us"], 1),
                         ok_text(res)])
    table("Target 8: nothing to find (the bench nginx)",
          "Tiny responses with a maximum of 64 (target: auto >= 0.95 x `-t 64`'s requests/s); "
          f"{T8_SLEEP} x 100 ms with a maximum of 500 (target: within 1.10 x the ideal wall). "
          "CPU µs/req: user + sys of the fetchpool process over its records (BASE_FP: the same "
          "cell with another build, for the fixed path's CPU).", head, rows)


# ---------------------------------------------------------------- target 9
class Redis:
    """A throwaway redis-server on an ephemeral loopback port, no persistence."""

    def __init__(self, workdir):
        import socket
        with socket.socket() as sk:
            sk.bind(("127.0.0.1", 0))
            self.port = sk.getsockname()[1]
        self.p = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--dir", workdir],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  stdin=subprocess.DEVNULL)
        self.url = f"redis://127.0.0.1:{self.port}"
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True,
                              timeout=5).returncode == 0:
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self):
        stop_process(self.p)


def run_workers(tag, n, args, urls):
    """Enqueue urls, run n `fetchpool worker --until-empty` with args at once,
    read the results stream; a dict as run() gives (wall: first start to last exit)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in tag)
    jobs = os.path.join(OUT, "jobs", safe + ".txt")
    with open(jobs, "w") as f:
        f.write("\n".join(urls) + "\n")
    work = os.path.join(OUT, "logs", safe + ".redis")
    os.makedirs(work, exist_ok=True)
    rd = Redis(work)
    try:
        r = ["--redis", rd.url, "--stream", "t9"]
        subprocess.run([FP, "enqueue", *r, jobs], check=True, capture_output=True, timeout=60)
        cmds = [[FP, "worker", *r, "--group", "g", "--consumer", f"w{i}", "--until-empty", *args]
                for i in range(n)]
        with open(os.path.join(OUT, "logs", safe + ".cmd"), "w") as f:
            f.write("\n".join(" ".join(c) for c in cmds) + "\n")
        errs = [open(os.path.join(OUT, "logs", f"{safe}.w{i}.stderr"), "w") for i in range(n)]
        t0 = time.monotonic()
        ps = [subprocess.Popen(c, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=e)
              for c, e in zip(cmds, errs)]
        timed_out = False
        for p in ps:
            try:
                p.wait(max(1.0, TMO - (time.monotonic() - t0)))
            except subprocess.TimeoutExpired:
                timed_out = True
                p.kill()
                p.wait()
        wall = time.monotonic() - t0
        for e in errs:
            e.close()
        out = subprocess.run([FP, "results", *r], capture_output=True, text=True, timeout=60).stdout
    finally:
        rd.stop()
        shutil.rmtree(work, ignore_errors=True)
    recs = []
    for line in out.splitlines():
        try:
            x = json.loads(line)
        except ValueError:
            continue
        recs.append({"ms": float(x.get("elapsed_ms") or 0), "ok": bool(x.get("ok")),
                     "attempts": int(x.get("attempts") or 0), "consumer": x.get("consumer")})
    rcs = [p.returncode for p in ps]
    res = {"tag": tag, "rc": "timeout" if timed_out else max(rcs, key=abs), "wall": wall,
           "jobs": len(urls), "records": len(recs), "ok": sum(x["ok"] for x in recs), "cpu_us": None,
           "median": quantile([x["ms"] for x in recs], 0.5), "p99": quantile([x["ms"] for x in recs], 0.99),
           "extra": sum(max(0, x["attempts"] - 1) for x in recs), "recs": recs, "stats": None,
           "hosts": {}, "per_worker": [sum(x["consumer"] == f"w{i}" for x in recs) for i in range(n)]}
    log(f"{tag}: rc {res['rc']}, {res['ok']}/{len(urls)} ok, wall {wall:.2f} s, per worker {res['per_worker']}")
    return res


def target9():
    head = ["mode", "row", "wall s", "median ms", "p99 ms", "median / no-load", "429s",
            "429s / requests", "server max in flight", "jobs per worker", "ok"]
    rows = []
    if not shutil.which("redis-server"):
        table("Target W: three workers, one API", "not run: no redis-server.", head, [])
        return
    nl = no_load()
    cells = [(1, "1 worker -t 16", ["-t", "16"]), (3, "3 workers -t 16", ["-t", "16"]),
             (3, "3 workers -t 5", ["-t", "5"]),
             (1, "1 worker -t auto", ["-t", "auto"] if HAS["auto"] else None),
             (3, "3 workers -t auto", ["-t", "auto"] if HAS["auto"] else None)]
    for mode, extra in (("queue", []), ("shed", ["--retries", "8"])):
        for n, label, args in cells:
            if args is None:
                rows.append([mode, label, NA] + [""] * (len(head) - 3))
                continue
            if over_budget():
                rows.append([mode, *budget_row(f"{label} ({mode})", len(head) - 1)])
                continue
            with Server() as srv:
                res = run_workers(f"t9 {mode} {label}", n, [*args, *extra],
                                  [srv.url("127.0.0.1", f"/cap/t9?c=16&ms=50&mode={mode}")] * T9_JOBS)
                st = srv.json("/cap-stats/t9")
            record(9, f"{mode} {label}", res, f"server {json.dumps({k: st[k] for k in ('served', 'shed', 'max_inflight')})}")
            sent = st["served"] + st["shed"]
            rows.append([mode, label, f1(res["wall"]), f1(res["median"], 1), f1(res["p99"], 1),
                         f1(res["median"] / nl if res["median"] and nl else None), st["shed"],
                         f1(st["shed"] / sent if sent else None, 3), st["max_inflight"],
                         " / ".join(map(str, res["per_worker"])), ok_text(res)])
    table("Target W: `fetchpool worker` x 3 against one API of capacity 16",
          f"{T9_JOBS} jobs through Redis Streams to `/cap/t9?c=16&ms=50` (queueing; shedding with "
          "`--retries 8`), the workers started together with `--until-empty`; each worker keeps its own "
          f"limits. Ideal wall {T9_JOBS / 16 * 0.05:.2f} s (16 at once, 50 ms). No-load latency "
          f"{f1(nl, 1)} ms.", head, rows)


def main():
    log(f"quick={int(QUICK)} threads={THREADS} engines={ENGINES} targets={TARGETS} out={OUT}")
    funcs = {1: target1, 2: target2, 3: target3, 4: target4, 5: target5, 6: target6, 7: target7,
             8: target8, 9: target9}
    for t in TARGETS:
        try:
            funcs[t]()
        except Exception as e:  # one broken target must not lose the others
            log(f"target {t} failed: {e!r}")
            md.append(f"### Target {t}\n\nfailed: {e!r}\n")
    head = [
        "# Politeness and how many threads (issue 18): results\n",
        f"- date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}",
        f"- mode: {'QUICK (sanity, small counts)' if QUICK else 'full'}; one run per cell; "
        f"engines {' '.join(ENGINES)}; fixed -t {' '.join(map(str, THREADS))}",
        f"- fetchpool: {subprocess.run([FP, '--version'], capture_output=True, text=True).stdout.strip()}",
        "- options in this build: " + ", ".join(
            f"`{'-t auto' if k == 'auto' else '--' + k}` {'yes' if v else 'no'}" +
            ("" if v == HAS_HELP[k] else " (help text disagrees)") for k, v in HAS.items()),
        f"- load at the end: {open('/proc/loadavg').read().split()[0:3]}, nproc {os.cpu_count()}",
        "- cells marked `" + NA + "` need an option this build lacks; no figure is made up.",
    ]
    if skipped:
        head.append(f"- skipped for the time budget ({BUDGET:.0f} s): {', '.join(skipped)}")
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write("\n".join(head) + "\n\n" + "\n".join(md) + "\n")
    log(f"wrote {OUT}/results.md")


main()

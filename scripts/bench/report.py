#!/usr/bin/python3
"""Turn bench/results/runs.csv (every run of `make bench`) into medians
(summary.csv, results.json), tables (results.md) and gnuplot PNGs.

usage: report.py DIR     (DIR holds runs.csv, meta.txt and lists/)

Per run: requests/s = completed requests / wall; CPU us per request =
(user + sys of the client process tree) / completed requests. Per cell
(workload, client, N): the median of each figure over the runs that
succeeded. Ideal wall (latency workloads): an overhead-free pool of N slots
that starts each URL, in list order, on the first slot to come free: for
100ms ceil(R/N) x 0.1 s, for mem ceil(R/N) x 1 s, for mixed computed from
the list's delays. wrk runs for a fixed time, so its ideal is the
time an ideal client would take for the requests wrk completed:
completed x mean delay / N (the ratio is then ideal rate / wrk's rate).
Throughput workloads (tiny, 100k) are compared with wrk at the same N.

HTTPS workloads (tls-*, with tls.csv): per run what nginx saw, TCP
connections accepted, those that carried requests, full TLS handshakes and
resumed ones, the protocols; and the client's context switches (GNU time's
%w + %c) per request. Medians per cell as above; protocols: all seen.
A cell whose client lacks an option in this build has status n/a.
"""
import csv
import heapq
import json
import math
import os
import re
import statistics
import subprocess
import sys

out = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(out, "runs.csv"))))
meta = {}
for line in open(os.path.join(out, "meta.txt")):
    k, _, v = line.rstrip("\n").partition("=")
    meta[k] = v

mixed_delays = []
mp = os.path.join(out, "lists", "mixed.txt")
if os.path.exists(mp):
    mixed_delays = [float(u.rsplit("/", 1)[1]) for u in open(mp).read().split()]

TLS_WLS = ["tls-tiny-h1", "tls-tiny-h2", "tls-100ms-h1", "tls-100ms-h2"]
WL_ORDER = ["tiny", "100ms", "mixed", "100k", "mem", "1m"] + TLS_WLS
WL_TITLE = {
    "tiny": "tiny responses (3-byte body), throughput",
    "100ms": "100 ms per request, latency-bound",
    "mixed": "mixed latency 10 ms to 1 s, latency-bound",
    "100k": "100 KiB bodies, bandwidth",
    "mem": "memory sweep: /sleep/1, R = 2 x N, every thread busy",
    "1m": "1,000,000 URLs at 64 threads (rss-1m.sh)",
    "tls-tiny-h1": "HTTPS, tiny responses, server speaks HTTP/1.1 only",
    "tls-tiny-h2": "HTTPS, tiny responses, server offers HTTP/2",
    "tls-100ms-h1": "HTTPS, 100 ms per request, server speaks HTTP/1.1 only",
    "tls-100ms-h2": "HTTPS, 100 ms per request, server offers HTTP/2",
}
LATENCY = {"100ms", "mixed", "mem", "tls-100ms-h1", "tls-100ms-h2"}
THROUGHPUT = {"tiny", "100k", "tls-tiny-h1", "tls-tiny-h2"}


def client_order(c):
    base = ["curl-parallel", "curl-parallel-mux", "py-threads", "py-aiohttp", "py-aiohttp-chunked", "py-fetchpool-submit",
            "py-fetchpool-all", "py-fetchpool-async", "xargs-curl", "wrk"]
    if c.startswith("fetchpool-"):
        return (0, ["threads", "multi", "hybrid"].index(c[10:]) if c[10:] in ("threads", "multi", "hybrid") else 9, c)
    return (1, base.index(c) if c in base else 99, c)


def fnum(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def pool_wall(d, n):
    """Wall of an ideal pool: n slots, no overhead, each URL (in list order)
    starts on the first slot to come free."""
    if n >= len(d):
        return max(d)
    slots = [0.0] * n
    for x in d:
        heapq.heapreplace(slots, slots[0] + x)
    return max(slots)


def delays(wl, r):
    if wl == "mem":
        return [1.0] * r
    if wl == "100ms" or wl.startswith("tls-100ms"):
        return [0.1] * r
    d = mixed_delays[:r]
    return d if len(d) == r else None


def ideal_for(wl, client, n, r, done):
    """Ideal wall in seconds (None when not latency-bound)."""
    if wl not in LATENCY or not r:
        return None
    d = delays(wl, r)
    if not d:
        return None
    if client == "wrk":
        if not done:
            return None
        return done * (sum(d) / len(d)) / n
    return pool_wall(d, n)


def chunk_bound(r, n):
    d = mixed_delays[:r]
    return sum(max(d[i:i + n]) for i in range(0, len(d), n))


# per run derived figures
for x in rows:
    x["n"] = int(x["n"])
    x["r"] = int(x["r"]) if x["r"] else 0
    done = fnum(x["done"])
    wall = fnum(x["wall_s"])
    u, s = fnum(x["user_s"]), fnum(x["sys_s"])
    x["rps"] = done / wall if done and wall else None
    x["cpu_us"] = (u + s) * 1e6 / done if done and u is not None and s is not None else None
    # /usr/bin/time reports user and sys in 10 ms ticks: below 10 ticks the
    # figure is coarse, at 0 only an upper bound (one tick / requests) is known
    x["cpu_ticks"] = round((u + s) * 100) if u is not None and s is not None else None
    x["rss"] = fnum(x["rss_kb"])
    x["wall"] = wall
    x["ideal"] = ideal_for(x["workload"], x["client"], x["n"], x["r"], done) if x["status"] == "ok" else None
    x["ratio_ideal"] = wall / x["ideal"] if x["ideal"] and wall else None

cells = {}
for x in rows:
    cells.setdefault((x["workload"], x["client"], x["n"]), []).append(x)


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


summary = []
for (wl, c, n), xs in cells.items():
    good = [x for x in xs if x["status"] == "ok"]
    notes, oks = [], []
    for x in xs:  # the same remark once; "exit status E, K of R ok" gathered per run
        for part in filter(None, x["note"].split("; ")):
            m = re.match(r"^(?:exit status \d+, )?(\d+) of (\d+) ok$", part)
            if m:
                oks.append("run %s: %s of %s ok" % (x["run"], m.group(1), m.group(2)))
            elif part not in notes:
                notes.append(part)
    notes += oks
    bad = [x for x in xs if x["status"] != "ok"]
    status = "ok"
    if not good:
        status = bad[0]["status"] if bad else "none"
    elif bad:
        status = "partial"
        notes.append("%d of %d runs not ok (%s)" % (len(bad), len(xs), ", ".join(sorted({b["status"] for b in bad}))))
    s = {
        "workload": wl, "client": c, "n": n, "eff_n": int(xs[0]["eff_n"] or n),
        "r": med([x["r"] for x in good]) if good else xs[0]["r"],
        "runs": len(xs), "runs_ok": len(good),
        "wall_s": med([x["wall"] for x in good]),
        "rps": med([x["rps"] for x in good]),
        "cpu_us_per_req": med([x["cpu_us"] for x in good]),
        "cpu_ticks": med([x["cpu_ticks"] for x in good]),
        "done": med([fnum(x["done"]) for x in good]),
        "all_rss_kb": med([x["rss"] for x in xs]),
        "all_ok": med([fnum(x["ok"]) for x in xs]),
        "rss_kb": med([x["rss"] for x in good]),
        "ideal_s": med([x["ideal"] for x in good]),
        "wall_over_ideal": med([x["ratio_ideal"] for x in good]),
        "load1": med([fnum(x["load1"]) for x in xs]),
        "status": status, "note": "; ".join(notes),
    }
    if wl == "mixed" and c == "py-aiohttp-chunked" and mixed_delays and s["r"]:
        s["chunk_bound_s"] = chunk_bound(int(s["r"]), n)
    summary.append(s)

# what the server saw in the TLS runs (tls.csv), per cell
tls_rows = []
tp = os.path.join(out, "tls.csv")
if os.path.exists(tp):
    tls_rows = list(csv.DictReader(open(tp)))
tls_runs = {}
for t in tls_rows:
    tls_runs.setdefault((t["workload"], t["client"], int(t["n"])), {})[t["run"]] = t
for s in summary:
    runs_seen = tls_runs.get((s["workload"], s["client"], s["n"]))
    if not runs_seen:
        continue
    ok_runs = {x["run"] for x in cells[(s["workload"], s["client"], s["n"])] if x["status"] == "ok"}
    use = [t for r, t in runs_seen.items() if r in ok_runs] or list(runs_seen.values())
    for k in ("accepted", "conns", "full_hs", "resumed_hs", "requests"):
        s[k] = med([fnum(t[k]) for t in use])
    s["idle_conns"] = med([fnum(t["accepted"]) - fnum(t["conns"]) for t in use
                           if fnum(t["accepted"]) is not None and fnum(t["conns"]) is not None])
    s["protocols"] = "+".join(sorted({p for t in use for p in t["protocols"].split("+") if p}))
    s["tls_versions"] = "+".join(sorted({p for t in use for p in t.get("tls_versions", "").split("+") if p}))
    done = {x["run"]: fnum(x["done"]) for x in cells[(s["workload"], s["client"], s["n"])]}
    s["csw_per_req"] = med([(fnum(t["csw_v"]) + fnum(t["csw_i"])) / done[t["run"]] for t in use
                            if fnum(t["csw_v"]) is not None and fnum(t["csw_i"]) is not None
                            and done.get(t["run"])])

wrk_rps = {(s["workload"], s["n"]): s["rps"] for s in summary if s["client"] == "wrk" and s["rps"]}
for s in summary:
    w = wrk_rps.get((s["workload"], s["n"]))
    s["vs_wrk"] = s["rps"] / w if (s["workload"] in THROUGHPUT and w and s["rps"]) else None
summary.sort(key=lambda s: (WL_ORDER.index(s["workload"]) if s["workload"] in WL_ORDER else 99,
                            client_order(s["client"]), s["n"]))

fields = ["workload", "client", "n", "eff_n", "r", "runs", "runs_ok", "wall_s", "rps", "cpu_us_per_req",
          "rss_kb", "ideal_s", "wall_over_ideal", "vs_wrk", "chunk_bound_s", "accepted", "conns", "idle_conns",
          "full_hs", "resumed_hs", "protocols", "tls_versions", "csw_per_req", "load1", "status", "note"]
with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
    w.writeheader()
    for s in summary:
        w.writerow({k: ("" if s.get(k) is None else (round(s[k], 6) if isinstance(s[k], float) else s[k]))
                    for k in fields})
runs_json = [{k: x[k] for k in ("workload", "client", "n", "eff_n", "run", "r", "done", "ok", "wall_s", "user_s",
                                "sys_s", "rss_kb", "rc", "load1", "status", "note")} for x in rows]
json.dump({"meta": meta, "runs": runs_json, "tls_runs": tls_rows, "medians": summary}, open(os.path.join(out, "results.json"), "w"),
          indent=1, default=lambda o: None)

# ---------------------------------------------------------------- markdown


def f_int(v):
    return "" if v is None else "{:,}".format(int(round(v)))


def f_s(v):
    if v is None:
        return ""
    return "%.3f" % v if v < 10 else "%.2f" % v if v < 100 else "%.1f" % v


def f_mib(kb):
    return "" if kb is None else "%.1f" % (kb / 1024)


def f_x(v):
    return "" if v is None else "%.2f" % v


def f_cpu(s):
    """CPU us per request, marked when /usr/bin/time's 10 ms ticks make it coarse."""
    if s["cpu_ticks"] is None or not s["done"]:
        return ""
    if s["cpu_ticks"] == 0:
        return "< %.0f" % (1e4 / s["done"])
    v = s["cpu_us_per_req"]
    txt = "%.0f" % v if v >= 10 else "%.1f" % v
    return ("≈ " + txt) if s["cpu_ticks"] < 10 else txt


def get(wl, c, n):
    for s in summary:
        if s["workload"] == wl and s["client"] == c and s["n"] == n:
            return s
    return None


def mark(s, text):
    """Cell text, or what happened instead."""
    if s is None:
        return "—"
    if s["status"] in ("ok", "partial") and text:
        flag = ""
        if s["eff_n"] < s["n"] and s["client"].startswith("curl-parallel"):
            flag = " †"
        if s["status"] == "partial":
            flag += " ‡"
        return text + flag
    return s["status"]


def pivot(wl, fmt, title, clients=None, extra_rows=()):
    ns = sorted({s["n"] for s in summary if s["workload"] == wl})
    cs = clients or sorted({s["client"] for s in summary if s["workload"] == wl}, key=client_order)
    if not ns:
        return []
    lines = ["**%s**" % title, "", "| client | " + " | ".join("N=%d" % n for n in ns) + " |",
             "|---|" + "---:|" * len(ns)]
    def text(cell):
        if cell is None or cell["status"] not in ("ok", "partial"):
            return ""
        try:
            return fmt(cell)
        except TypeError:  # a figure is missing
            return ""

    for c in cs:
        lines.append("| %s | " % c + " | ".join(mark(get(wl, c, n), text(get(wl, c, n))) for n in ns) + " |")
    for label, fn in extra_rows:
        lines.append("| %s | " % label + " | ".join(fn(n) for n in ns) + " |")
    lines.append("")
    return lines


def r_of(wl, n, client=None):
    for s in summary:
        if s["workload"] == wl and s["n"] == n and s["client"] != "wrk" and (client is None or s["client"] == client):
            return s["r"]
    return None


md = []
loads = [fnum(x["load1"]) for x in rows if fnum(x["load1"]) is not None]
md += ["# fetchpool benchmark run", "",
       "Generated by `scripts/bench/report.py` from `runs.csv`; every figure is a median of the runs of its cell "
       "that succeeded.", "",
       "| what | value |", "|---|---|",
       "| date | %s |" % meta.get("date", ""),
       "| mode | %s, %s run(s) per cell, %s s in all |" % ("QUICK" if meta.get("quick") == "1" else "full",
                                                         meta.get("runs"), meta.get("elapsed_s", "?")),
       "| load average (1 min) | start %s, end %s; at the cells: min %.2f, median %.2f, max %.2f |" % (
           meta.get("load_start"), meta.get("load_end"), min(loads) if loads else 0,
           statistics.median(loads) if loads else 0, max(loads) if loads else 0),
       "| machine | %s, %s CPUs, %s; %s, kernel %s |" % (meta.get("cpu"), meta.get("nproc"), meta.get("mem"),
                                                         meta.get("os"), meta.get("kernel")),
       "| fetchpool | %s, commit %s, engines: %s |" % (meta.get("fetchpool"), meta.get("commit"), meta.get("engines")),
       "| compiler | %s |" % meta.get("gcc"),
       "| server | %s, one worker, loopback |" % meta.get("nginx"),
       "| curl | %s |" % meta.get("curl"),
       "| Python | %s, requests %s, aiohttp %s |" % (meta.get("python"), meta.get("requests"), meta.get("aiohttp")),
       "| wrk | %s |" % meta.get("wrk"),
       "| plots | %s |" % meta.get("gnuplot"),
       "| request counts R | tiny %s, 100k %s, 100ms min(%s, %s N), mixed min(%s, %s N), each at least %s × N; "
       "caps: tiny %s, 100k %s; xargs-curl min(R, %s) but at least N; mem 2 N; wrk runs %s s per cell |" % (
           meta.get("tiny_r"), meta.get("big_r"), meta.get("lat_r"), meta.get("lat_mult"), meta.get("mix_r"),
           meta.get("mix_mult"), meta.get("min_waves"), meta.get("caps_tiny"), meta.get("caps_100k"),
           meta.get("cap_xargs"), meta.get("wrk_duration_s")),
       "| limits | `timeout %s` per client invocation, ulimit -n %s, time budget %s s |" % (
           meta.get("timeout_s"), meta.get("nofile"), meta.get("budget_s")),
       "",
       "Client and nginx share the machine's CPUs. † curl cuts `--parallel-max` above 300 to 300. "
       "‡ some runs of the cell failed (see the notes). A cell that says `failed`, `timeout` or `skipped` "
       "has no figure; the notes below say why.", ""]

md += pivot("tiny", lambda s: "%s (%s)" % (f_int(s["rps"]), f_x(s["vs_wrk"])) if s["client"] != "wrk"
            else f_int(s["rps"]), "Tiny: requests/s (ratio to wrk at the same N)",
            extra_rows=[("R (fetchpool)", lambda n: f_int(r_of("tiny", n, "fetchpool-threads")))])
md += pivot("tiny", f_cpu, "Tiny: client CPU µs per request (user + sys; ≈: under 0.1 s of CPU in all, "
            "coarse; <: under one 10 ms tick)")
md += pivot("100k", lambda s: "%s (%s)" % (f_int(s["rps"] * 100 / 1024), f_x(s["vs_wrk"])) if s["client"] != "wrk"
            else f_int(s["rps"] * 100 / 1024), "100 KiB: MiB/s (ratio to wrk)")
md += pivot("100k", f_cpu, "100 KiB: client CPU µs per request")
def lat_fmt(wl):
    """wall (wall / ideal), with [R=..] when the client ran another count than
    the row's R; wrk: rate (ideal rate / rate)."""
    def fmt(s):
        if s["client"] == "wrk":
            return "%s/s (%s)" % (f_int(s["rps"]), f_x(s["wall_over_ideal"]))
        txt = "%s (%s)" % (f_s(s["wall_s"]), f_x(s["wall_over_ideal"]))
        ref = r_of(wl, s["n"])
        if ref and s["r"] != ref:
            txt += " [R=%s]" % f_int(s["r"])
        return txt
    return fmt


def ideal_row(wl):
    def fn(n):
        r = r_of(wl, n)
        return f_s(ideal_for(wl, "x", n, int(r), r)) if r else ""
    return fn


md += pivot("100ms", lat_fmt("100ms"),
            "100 ms: wall s (wall / ideal); wrk: requests/s (ideal rate N/0.1 over its rate)",
            extra_rows=[("R", lambda n: f_int(r_of("100ms", n))), ("ideal s", ideal_row("100ms"))])
md += pivot("100ms", f_cpu, "100 ms: client CPU µs per request")
md += pivot("100ms", lambda s: f_mib(s["rss_kb"]), "100 ms: peak RSS MiB (xargs-curl: largest single process)")


def mixed_chunk(n):
    r = r_of("mixed", n)
    return f_s(chunk_bound(int(r), n)) if r and mixed_delays else ""


md += pivot("mixed", lat_fmt("mixed"),
            "Mixed 10 ms–1 s: wall s (wall / ideal); wrk: requests/s (ideal rate N/mean delay over its rate)",
            extra_rows=[("R", lambda n: f_int(r_of("mixed", n))), ("ideal s (pool)", ideal_row("mixed")),
                        ("ideal s for chunk-and-gather", mixed_chunk)])
md += pivot("mixed", lambda s: f_mib(s["rss_kb"]), "Mixed: peak RSS MiB")

mem = [s for s in summary if s["workload"] == "mem"]
if mem:
    md += ["**Memory sweep: fetchpool, /sleep/1, R = 2 × N, every thread busy** (peak RSS: median of all runs, "
           "failed ones included; ok: median of ok records)", "",
           "| client | threads | R | ok | wall s | ideal s | peak RSS MiB | KiB per thread above N=64 | status |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for s in mem:
        base = get("mem", s["client"], 64)
        per = ""
        if base and base["all_rss_kb"] and s["all_rss_kb"] and s["n"] > 64:
            per = "%.0f" % ((s["all_rss_kb"] - base["all_rss_kb"]) / (s["n"] - 64))
        md.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            s["client"], f_int(s["n"]), f_int(s["r"]), f_int(s["all_ok"]), f_s(s["wall_s"]),
            f_s(ideal_for("mem", "x", s["n"], int(s["r"]), s["r"])), f_mib(s["all_rss_kb"]), per,
            s["status"] + (": " + s["note"] if s["note"] else "")))
    md.append("")
one = [x for x in rows if x["workload"] == "1m"]
if one:
    md += ["**%s URLs at 64 threads (`scripts/bench/rss-1m.sh`)**" % f_int(fnum(meta.get("rss1m_n"))), "",
           "| client | run | ok | peak RSS KiB | wall s | requests/s | CPU µs/request | status |",
           "|---|---:|---:|---:|---:|---:|---:|---|"]
    for x in one:
        md.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            x["client"], x["run"], f_int(fnum(x["ok"])), f_int(x["rss"]), f_s(x["wall"]), f_int(x["rps"]),
            f_s(x["cpu_us"]), x["status"]))
    for s in summary:
        if s["workload"] == "1m":
            md.append("| **%s median** | | | **%s** | %s | %s | %s | |" % (
                s["client"], f_int(s["rss_kb"]), f_s(s["wall_s"]), f_int(s["rps"]), f_s(s["cpu_us_per_req"])))
    md.append("")

tls_present = [wl for wl in TLS_WLS if any(s["workload"] == wl for s in summary)]
if tls_present:
    md += ["### HTTPS", "",
           "HTTPS to the same nginx (TLS 1.2 and 1.3 offered; key %s, %s); every client verifies the server against the bench's CA "
           "(`--cacert`). *h1*: a port that speaks HTTP/1.1 only; *h2*: a port that offers HTTP/2 by ALPN "
           "(fetchpool with `--http2`, curl with `--http2`; requests and aiohttp speak HTTP/1.1 only and use "
           "it there). Server side, per run: TCP connections accepted, how many of them did a full TLS "
           "handshake and how many resumed a session (the rest carried no request), and the protocols of "
           "the requests. Context switches: the client's voluntary + involuntary (GNU time) per request. "
           "n/a: the client lacks an option the cell needs in this build (see the notes)." % (
               meta.get("tls_key", "?"), meta.get("openssl", "?")), ""]
    for wl in tls_present:
        lat = wl in LATENCY
        md += ["**%s** (%s)" % (wl, WL_TITLE[wl]), "",
               "| client | N | R | %s | CPU µs/req | peak RSS MiB | ctx sw/req | connections | full handshakes "
               "| resumed | idle conns | protocol | TLS |" % ("wall s (wall / ideal)" if lat else "requests/s"),
               "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
        for s in [x for x in summary if x["workload"] == wl]:
            if s["status"] not in ("ok", "partial"):
                md.append("| %s | %d | %s | %s | | | | | | | | | |" % (
                    s["client"], s["n"], f_int(s["r"]),
                    s["note"] if s["status"] == "n/a" else s["status"]))
                continue
            head = ("%s (%s)" % (f_s(s["wall_s"]), f_x(s["wall_over_ideal"]))) if lat else f_int(s["rps"])
            md.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                s["client"], s["n"], f_int(s["r"]), mark(s, head), f_cpu(s), f_mib(s["rss_kb"]),
                "" if s.get("csw_per_req") is None else "%.2f" % s["csw_per_req"],
                f_int(s.get("accepted")), f_int(s.get("full_hs")), f_int(s.get("resumed_hs")),
                f_int(s.get("idle_conns")), s.get("protocols", ""), s.get("tls_versions", "")))
        md.append("")

md += ["**Notes per cell** (caps, failures, skips)", ""]
for s in summary:
    note = s["note"]
    if note or s["status"] != "ok":
        md.append("- %s / %s / N=%d: %s%s" % (s["workload"], s["client"], s["n"], s["status"],
                                             (": " + note) if note else ""))
md.append("")

md += ["**All cells** (medians; R = requests asked; CPU = user+sys µs per request; ratio = wall/ideal for "
       "latency workloads, requests/s over wrk's for throughput)", ""]
for wl in WL_ORDER:
    ss = [s for s in summary if s["workload"] == wl]
    if not ss:
        continue
    md += ["*%s*" % WL_TITLE[wl], "",
           "| client | N | eff. N | R | runs ok | wall s | requests/s | CPU µs/req | peak RSS MiB | ideal s | ratio |"
           " load |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in ss:
        ratio = s["wall_over_ideal"] if wl in LATENCY else s["vs_wrk"]
        md.append("| %s | %d | %d | %s | %d/%d | %s | %s | %s | %s | %s | %s | %s |" % (
            s["client"], s["n"], s["eff_n"], f_int(s["r"]), s["runs_ok"], s["runs"], f_s(s["wall_s"]),
            f_int(s["rps"]), f_cpu(s), f_mib(s["rss_kb"]), f_s(s["ideal_s"]), f_x(ratio),
            "" if s["load1"] is None else "%.1f" % s["load1"]))
    md.append("")
open(os.path.join(out, "results.md"), "w").write("\n".join(md))

# ------------------------------------------------------------------- plots
pd = os.path.join(out, "plotdata")
os.makedirs(pd, exist_ok=True)


def series(wl, key, scale=1.0):
    """{client: path of a 'n value' data file} for one workload."""
    res = {}
    for c in sorted({s["client"] for s in summary if s["workload"] == wl}, key=client_order):
        pts = [(s["n"], s[key]) for s in summary if s["workload"] == wl and s["client"] == c and s.get(key)]
        if not pts:
            continue
        p = os.path.join(pd, "%s-%s-%s.dat" % (wl, key, c))
        with open(p, "w") as f:
            for n, v in sorted(pts):
                f.write("%d %g\n" % (n, v * scale))
        res[c] = p
    return res


def plot_cmd(ser, extra=""):
    parts = ['"%s" using 1:2 with linespoints lw 2 pt %d title "%s"' % (p, i % 13 + 1, c)
             for i, (c, p) in enumerate(ser.items())]
    if extra:
        parts.append(extra)
    if parts:
        return "plot " + ", \\\n  ".join(parts)
    # nothing measured (a workload left out or skipped): an empty panel that
    # says so; gnuplot refuses to autoscale a plot with no points
    return "\n".join(['set label 99 "not measured in this run" at graph 0.5, graph 0.5 center',
                      "unset key", "plot [1:2048] [1:10] 1/0 notitle", "unset label 99",
                      "set key outside right top"])


gp = ['set terminal pngcairo size 1400,560 font "sans,10"', "set logscale x 2", "set grid",
      "set key outside right top", 'set xlabel "concurrency N"']
gp += ['set output "%s"' % os.path.join(out, "rps.png"), "set multiplot layout 1,2",
       "set logscale y", 'set ylabel "requests/s"', 'set title "tiny responses: requests/s"',
       plot_cmd(series("tiny", "rps")), 'set title "100 KiB bodies: requests/s"', plot_cmd(series("100k", "rps")),
       "unset multiplot"]
gp += ['set output "%s"' % os.path.join(out, "wall_ideal.png"), "set multiplot layout 1,2",
       "set logscale y", 'set ylabel "wall / ideal (1 = ideal)"',
       'set title "100 ms per request: wall / ceil(R/N) x 0.1 s"',
       plot_cmd(series("100ms", "wall_over_ideal"), "1 with lines lc rgb 'black' dt 2 title 'ideal'"),
       'set title "mixed 10 ms..1 s: wall / ideal pool wall"',
       plot_cmd(series("mixed", "wall_over_ideal"), "1 with lines lc rgb 'black' dt 2 title 'ideal'"),
       "unset multiplot"]
rss_ser = series("100ms", "rss_kb", 1 / 1024)
rss_ser.update({"%s, /sleep/1 sweep (all runs)" % c: p
                for c, p in series("mem", "all_rss_kb", 1 / 1024).items()})
gp += ['set terminal pngcairo size 1000,560 font "sans,10"', "set key inside left top",
       'set output "%s"' % os.path.join(out, "rss.png"), "set logscale y",
       'set ylabel "peak RSS MiB"', 'set title "peak RSS vs concurrency (100 ms workload; xargs-curl: largest process)"',
       plot_cmd(rss_ser)]
gp += ['set output "%s"' % os.path.join(out, "cpu.png"), "set logscale y",
       'set ylabel "client CPU us per request"', 'set title "tiny responses: client CPU (user+sys) per request"',
       plot_cmd(series("tiny", "cpu_us_per_req"))]
if tls_present:
    gp += ['set terminal pngcairo size 1400,1000 font "sans,10"', "set key outside right top",
           'set output "%s"' % os.path.join(out, "tls.png"), "set multiplot layout 2,2"]
    for wl in ("tls-tiny-h1", "tls-tiny-h2"):
        gp += ["set logscale y", 'set ylabel "requests/s"', 'set title "%s: requests/s"' % wl,
               plot_cmd(series(wl, "rps"))]
    for wl in ("tls-tiny-h1", "tls-tiny-h2"):
        gp += ["set logscale y", 'set ylabel "full TLS handshakes the server saw"',
               'set title "%s: full TLS handshakes per run"' % wl,
               plot_cmd(series(wl, "full_hs"), "x with lines lc rgb 'black' dt 2 title 'one per slot (N)'")]
    gp += ["unset multiplot", 'set terminal pngcairo size 1400,560 font "sans,10"',
           'set output "%s"' % os.path.join(out, "tls_100ms.png"), "set multiplot layout 1,2"]
    for wl in ("tls-100ms-h1", "tls-100ms-h2"):
        gp += ["set logscale y", 'set ylabel "wall / ideal (1 = ideal)"', 'set title "%s: wall / ideal"' % wl,
               plot_cmd(series(wl, "wall_over_ideal"), "1 with lines lc rgb 'black' dt 2 title 'ideal'")]
    gp += ["unset multiplot"]
gp.append("unset output")
gpf = os.path.join(out, "plots.gp")
open(gpf, "w").write("\n".join(gp) + "\n")
r = subprocess.run(["gnuplot", gpf], capture_output=True, text=True, timeout=120)
if r.returncode != 0:
    sys.stderr.write(r.stderr)
    sys.exit("gnuplot failed")
print(os.path.join(out, "results.md"))

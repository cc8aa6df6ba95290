#!/usr/bin/env python3
"""bench/report.py: the before/after and ablation tables and chart from bench/ablation.sh's TSV.

    bench/report.py build/bench/ablation.tsv --svg bench/results/DATE.svg [--seconds 8 ...]
        [--readme README.md --results bench/results/DATE.md --extra FILE]
    bench/report.py --check-readme README.md      (scripts/lint.sh)

Prints a markdown section (the "all off" vs "all on" table, the chart, the ablation table and
notes) for the results file, writes the SVG chart (hand-written SVG: requests/s and p95 latency
per scenario and configuration), and with --readme replaces the part of the README between the
markers below with the before/after table and the chart. Standard library only.

--check-readme checks that every figure in the README comes from a results file, as this
script writes them: the block between the markers links a results file that exists, each of
its table rows and list items is a line of that file, and every number in it appears there;
outside the block no figure is followed by requests/s (a hand-typed measurement). It prints
each problem and exits 1 if there is one. (The block cannot be regenerated to compare: its
input, the run's TSV, is not kept.)

The TSV has one row per configuration and scenario with raw counts (see bench/ablation.sh);
every derived figure (queries per request, hit rate, error rate) is computed here.
"""
import argparse
import csv
import math
import os
import re
import sys
import textwrap
from xml.sax.saxutils import escape

README_BEGIN = "<!-- bench:begin (written by bench/run.sh; edits between these markers are lost) -->"
README_END = "<!-- bench:end -->"
ALL_OFF, ALL_ON = "all off", "all on"
SATURATED = "‡"  # the server did not keep up with the offered open-loop rate
# Keeping up, the last answer comes a latency after the schedule ends, so loadgen's achieved
# rate is within a fraction of a percent of the target; below this share a queue built up.
KEPT_UP = 0.98
NUMERIC = {
    "wrk_rps", "wrk_requests", "wrk_non2xx", "wrk_socket_errors", "lg_target_rps",
    "lg_achieved_rps", "lg_scheduled", "lg_responses", "lg_non2xx", "lg_failed", "lg_mean_ms",
    "lg_p95_ms", "lg_p99_ms", "lg_bytes_per_response", "srv_requests", "srv_statements",
}


# ---- reading and deriving ----

def read_rows(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for r in rows:
        for k in NUMERIC:
            r[k] = float(r[k]) if r.get(k) not in (None, "", "-") else None
        hits = r.get("srv_cache_hits")
        r["srv_cache_hits"] = None if hits in (None, "", "-") else float(hits)
        derive(r)
    return rows


def ratio(num, den):
    return None if num is None or not den else num / den


def derive(r):
    """Adds the figures the tables show to a row of raw counts."""
    r["queries_per_request"] = ratio(r["srv_statements"], r["srv_requests"])
    r["hit_rate"] = ratio(r["srv_cache_hits"], r["srv_requests"])
    bad = sum(r[k] or 0 for k in ("wrk_non2xx", "wrk_socket_errors", "lg_non2xx", "lg_failed"))
    tried = sum(r[k] or 0 for k in ("wrk_requests", "wrk_socket_errors", "lg_scheduled"))
    r["error_rate"] = ratio(bad, tried)
    target, achieved = r["lg_target_rps"], r["lg_achieved_rps"]
    r["saturated"] = bool(target and (achieved or 0) < KEPT_UP * target) or (r["lg_failed"] or 0) > 0


def by_key(rows):
    return {(r["config"], r["scenario"]): r for r in rows}


def ordered(values):
    """Unique values in first-seen order."""
    seen = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


def config_order(rows):
    """all off, each optimization off in turn, all on: the order of the chart's bars."""
    configs = ordered(r["config"] for r in rows)
    middle = [c for c in configs if c not in (ALL_OFF, ALL_ON)]
    return [c for c in [ALL_OFF] + middle + [ALL_ON] if c in configs]


# ---- formatting ----

def fmt_int(v):
    return "-" if v is None else f"{v:,.0f}"


def fmt_ms(v):
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}" if v < 1000 else f"{v:,.0f}"


def fmt_pct(v, digits=1):
    return "off" if v is None else f"{100 * v:.{digits}f}%"


def fmt_queries(v):
    return "-" if v is None else f"{v:.2f}"


def fmt_change(v, base):
    if v is None or not base:
        return ""
    return f" ({v / base:.2f}x)"


def latency_cells(r):
    mark = f" {SATURATED}" if r["saturated"] else ""
    return [fmt_ms(r["lg_mean_ms"]) + mark, fmt_ms(r["lg_p95_ms"]) + mark]


def figure_cells(r):
    return [fmt_queries(r["queries_per_request"]), fmt_pct(r["hit_rate"]),
            fmt_pct(r["error_rate"], 2), fmt_int(r["lg_bytes_per_response"])]


COLUMNS = ["avg latency ms", "p95 latency ms", "requests/s", "DB queries / request",
           "cache hit rate", "error rate", "bytes / response"]


def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def scenario_label(rows, sid):
    what = next((r["what"] for r in rows if r["scenario"] == sid and r.get("what")), "")
    return f"{sid} {what}".strip()


def before_after_table(rows):
    keyed, out = by_key(rows), []
    for sid in ordered(r["scenario"] for r in rows):
        off, on = keyed.get((ALL_OFF, sid)), keyed.get((ALL_ON, sid))
        for name, r in (("all off", off), ("all on", on)):
            if r is None:
                continue
            change = fmt_change(r["wrk_rps"], off["wrk_rps"]) if r is on and off else ""
            out.append([scenario_label(rows, sid) if name == "all off" or off is None else "",
                        name] + latency_cells(r) + [fmt_int(r["wrk_rps"]) + change] +
                       figure_cells(r))
    return md_table(["scenario", "optimizations"] + COLUMNS, out)


def ablation_table(rows):
    keyed, out = by_key(rows), []
    configs = [c for c in config_order(rows) if c != ALL_OFF]
    for sid in ordered(r["scenario"] for r in rows):
        on = keyed.get((ALL_ON, sid))
        for c in [ALL_ON] + [c for c in configs if c != ALL_ON]:
            r = keyed.get((c, sid))
            if r is None:
                continue
            name = "nothing (all on)" if c == ALL_ON else c
            change = "" if c == ALL_ON else fmt_change(r["wrk_rps"], on and on["wrk_rps"])
            out.append([sid if c == ALL_ON else "", name] + latency_cells(r) +
                       [fmt_int(r["wrk_rps"]) + change] + figure_cells(r))
    return md_table(["scenario", "switched off"] + COLUMNS, out)


def config_notes(rows):
    flags = {r["config"]: r.get("flags", "").strip() for r in rows}
    parts = []
    for c in config_order(rows):
        parts.append(f"{c}: " + (f"`{flags[c]}`" if flags.get(c) else "the defaults"))
    return "; ".join(parts)


def rate_notes(rows):
    rates = {}
    for r in rows:
        rates.setdefault(r["scenario"], r["lg_target_rps"])
    return ", ".join(f"{sid} {fmt_int(v)}/s" for sid, v in rates.items())


def wrap(text):
    return textwrap.fill(text, width=100, break_long_words=False, break_on_hyphens=False)


def saturated_notes(rows):
    bad = [r for r in rows if r["saturated"]]
    if not bad:
        return ""
    items = ", ".join(f"{r['scenario']} {r['config']} ({fmt_int(r['lg_achieved_rps'])} of "
                      f"{fmt_int(r['lg_target_rps'])}/s, {fmt_int(r['lg_failed'])} failed)"
                      for r in bad)
    return wrap(f"{SATURATED}: the server, with its load generator on the same cores, did not "
                f"keep up with the offered rate, so the latency includes the queue that built "
                f"up: {items}.")


def section(rows, args, svg_href):
    method = (
        f"Each configuration is a fresh `hotpath serve` ({config_notes(rows)}); every request "
        f"carries `Accept-Encoding: gzip, br`, so compression matters. Per scenario: "
        f"{args.warmup} s of wrk warm-up, then **requests/s** from wrk (closed loop, "
        f"{args.threads} threads, {args.connections} connections, {args.seconds} s), then the "
        f"**latency** columns from bench/loadgen (open loop: a fixed arrival rate, latency "
        f"counted from when each request was due, {args.connections} connections, "
        f"{args.seconds} s) at the same rate for every configuration: {rate_notes(rows)}. "
        f"**DB queries / request** and **cache hit rate** are the changes of "
        f"`hotpath_db_statements_total` and `hotpath_cache_hits_total` + "
        f"`hotpath_cache_stale_hits_total` over both runs, divided by the requests the server "
        f"answered (`hotpath_http_requests_total`); \"off\" when the cache is off. **Error "
        f"rate**: non-2xx answers, socket errors and requests without an answer over all "
        f"requests of both runs. **Bytes / response**: loadgen's bytes read per response, "
        f"status line and headers included. Both load generators share the machine's cores "
        f"with the server.")
    out = ["## Before/after: every optimization off, then on", "", wrap(method), "",
           before_after_table(rows), "", f"![requests/s and p95 latency per configuration]"
           f"({svg_href})", "", "## Ablation: each optimization off in turn", "",
           "requests/s in brackets: relative to all on.", "", ablation_table(rows), ""]
    notes = saturated_notes(rows)
    if notes:
        out += [notes, ""]
    return "\n".join(out)


# ---- the chart ----

PALETTE = {ALL_OFF: "#9e9e9e", ALL_ON: "#1f5fbf"}
ABLATION_COLOURS = ["#e8743b", "#19a979", "#945ecf", "#ed4a7b", "#13a4b4", "#bf9b30"]
WIDTH, PANEL_H, TOP, LEFT, RIGHT = 960, 250, 72, 70, 20


def colours(configs):
    out, i = {}, 0
    for c in configs:
        if c in PALETTE:
            out[c] = PALETTE[c]
        else:
            out[c] = ABLATION_COLOURS[i % len(ABLATION_COLOURS)]
            i += 1
    return out


def nice_ticks(top):
    """Round linear ticks from 0 to at least `top`."""
    if top <= 0:
        return [0, 1]
    step = 10 ** math.floor(math.log10(top / 4))
    for m in (1, 2, 2.5, 5, 10):
        if top / (step * m) <= 5:
            step *= m
            break
    n = math.ceil(top / step)
    return [i * step for i in range(n + 1)]


def log_ticks(lo, hi):
    """Powers of ten covering lo..hi (lo > 0)."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    if a == b:
        b += 1
    return [10.0 ** e for e in range(a, b + 1)]


def tick_label(v):
    if v >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def axis(values, log):
    """The ticks for these values and a function mapping a value to 0..1 of the plot height."""
    present = [v for v in values if v is not None and v > 0]
    if not log:
        ticks = nice_ticks(max(present) if present else 1)
        return ticks, lambda v: v / ticks[-1]
    ticks = log_ticks(min(present), max(present)) if present else [0.1, 1]
    lo, hi = math.log10(ticks[0]), math.log10(ticks[-1])
    return ticks, lambda v: (math.log10(max(v, ticks[0])) - lo) / (hi - lo)


def panel(svg, y0, title, scenarios, configs, colour, value, log, marked=None):
    """One bar panel: a group per scenario, a bar per configuration. marked(s, c) adds the
    saturation mark to a bar's label."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, PANEL_H - 60
    ticks, scale = axis([value(s, c) for s in scenarios for c in configs], log)
    base_y = y0 + 30 + plot_h
    svg.append(f'<text x="{LEFT}" y="{y0 + 18}" class="title">{escape(title)}</text>')
    for t in ticks:
        y = base_y - scale(t) * plot_h
        svg.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                   f'class="grid"/>')
        svg.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="tick" '
                   f'text-anchor="end">{tick_label(t)}</text>')
    group_w = plot_w / max(len(scenarios), 1)
    bar_w = group_w * 0.8 / max(len(configs), 1)
    for i, s in enumerate(scenarios):
        gx = LEFT + i * group_w + group_w * 0.1
        svg.append(f'<text x="{gx + group_w * 0.4:.1f}" y="{base_y + 16:.1f}" class="tick" '
                   f'text-anchor="middle">{escape(s)}</text>')
        for j, c in enumerate(configs):
            v = value(s, c)
            if v is None or v <= 0:
                continue
            h = max(scale(v) * plot_h, 1)
            x, y = gx + j * bar_w, base_y - h
            svg.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w * 0.9:.1f}" '
                       f'height="{h:.1f}" fill="{colour[c]}"><title>{escape(s)} {escape(c)}: '
                       f'{v:,.3g}</title></rect>')
            label = tick_label(float(f"{v:.3g}"))
            if marked and marked(s, c):
                label += SATURATED
            svg.append(f'<text x="{x + bar_w * 0.45:.1f}" y="{y - 3:.1f}" class="value" '
                       f'text-anchor="middle">{label}</text>')
    svg.append(f'<line x1="{LEFT}" y1="{base_y}" x2="{WIDTH - RIGHT}" y2="{base_y}" '
               f'class="axis"/>')


def legend(svg, configs, colour):
    x = LEFT
    for c in configs:
        svg.append(f'<rect x="{x}" y="44" width="12" height="12" fill="{colour[c]}"/>')
        svg.append(f'<text x="{x + 16}" y="54" class="tick">{escape(c)}</text>')
        x += 28 + 7 * len(c)


def chart(rows, title, subtitle):
    keyed = by_key(rows)
    scenarios = ordered(r["scenario"] for r in rows)
    configs = config_order(rows)
    colour = colours(configs)

    def field(name):
        return lambda s, c: keyed[(c, s)][name] if (c, s) in keyed else None

    def saturated(s, c):
        return (c, s) in keyed and keyed[(c, s)]["saturated"]

    height = TOP + 2 * PANEL_H
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">',
           "<style>.title{font-size:14px;font-weight:bold}.tick{font-size:11px;fill:#333}"
           ".value{font-size:9px;fill:#333}.grid{stroke:#e0e0e0}.axis{stroke:#333}</style>",
           f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
           f'<text x="{LEFT}" y="20" class="title">{escape(title)}</text>',
           f'<text x="{LEFT}" y="36" class="tick">{escape(subtitle)}</text>']
    legend(svg, configs, colour)
    panel(svg, TOP, "requests/s (wrk, closed loop; higher is better)", scenarios, configs,
          colour, field("wrk_rps"), log=False)
    panel(svg, TOP + PANEL_H, "p95 latency, ms (bench/loadgen, open loop at a fixed rate; "
          f"log scale; lower is better; {SATURATED} did not keep up)", scenarios, configs, colour,
          field("lg_p95_ms"), log=True, marked=saturated)
    svg.append("</svg>")
    return "\n".join(svg) + "\n"


# ---- the README ----

def readme_block(rows, args):
    results = args.results
    svg = os.path.splitext(results)[0] + ".svg"
    date = os.path.basename(os.path.splitext(results)[0])
    parts = [wrap(f"Latest run ({date}; [full results]({results}), with the ablation, the "
                  f"per-scenario wrk table and the machine): every optimization off, then on. "
                  f"Latency from bench/loadgen (open loop, at {rate_notes(rows)}), requests/s "
                  f"from wrk; load generators on the same machine as the server."), "",
             before_after_table(rows), "", f"![requests/s and p95 latency per configuration]"
             f"({svg})"]
    if args.extra and os.path.exists(args.extra):
        with open(args.extra) as f:
            extra = f.read().strip()
        if extra:
            parts += ["", extra]
    notes = saturated_notes([r for r in rows if r["config"] in (ALL_OFF, ALL_ON)])
    if notes:
        parts += ["", notes]
    return "\n".join(parts)


NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
RESULTS_LINK = re.compile(r"\]\((bench/results/[^)\s]+\.md)\)")
HAND_TYPED = re.compile(r"\d[\d,.]*\s*(?:requests|req|transactions)/s")


def check_readme(path):
    """The problems with path's figures (see --check-readme), as strings."""
    with open(path) as f:
        text = f.read()
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        return [f"{path} has no {README_BEGIN!r} ... {README_END!r} block"]
    block = text[begin + len(README_BEGIN):end]
    problems = []
    outside = (text[:begin] + text[end:]).splitlines()
    for line in outside:
        if HAND_TYPED.search(line):
            problems.append(f"{path}: a figure outside the bench block (not from a results "
                            f"file): {line.strip()!r}")
    m = RESULTS_LINK.search(block)
    if not m:
        return problems + [f"{path}: the bench block links no bench/results/*.md"]
    results_path = os.path.join(os.path.dirname(os.path.abspath(path)), m.group(1))
    if not os.path.exists(results_path):
        return problems + [f"{path}: the bench block links {m.group(1)}, which does not exist"]
    with open(results_path) as f:
        results = f.read()
    lines = set(line.rstrip() for line in results.splitlines())
    figures = set(NUMBER.findall(results))
    for line in block.splitlines():
        line = line.rstrip()
        if line.startswith("|") or line.startswith("- "):
            if line not in lines:
                problems.append(f"{path}: bench block line not in {m.group(1)}: {line!r}")
        for fig in NUMBER.findall(line):
            if fig not in figures:
                problems.append(f"{path}: bench block figure {fig} not in {m.group(1)}: {line!r}")
    return problems


def update_readme(path, block):
    with open(path) as f:
        text = f.read()
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        sys.exit(f"report.py: {path} has no {README_BEGIN!r} ... {README_END!r} block")
    new = text[:begin + len(README_BEGIN)] + "\n" + block + "\n" + text[end:]
    with open(path, "w") as f:
        f.write(new)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tsv", nargs="?")
    ap.add_argument("--svg", help="where to write the chart (needed with a TSV)")
    ap.add_argument("--check-readme", metavar="README",
                    help="check that every figure in README comes from a results file, and stop")
    ap.add_argument("--title", default="hotpath: all off, each optimization off in turn, all on")
    ap.add_argument("--subtitle", default="load generators on the same machine as the server")
    ap.add_argument("--seconds", default="?")
    ap.add_argument("--warmup", default="?")
    ap.add_argument("--threads", default="?")
    ap.add_argument("--connections", default="?")
    ap.add_argument("--readme", help="README to update between the bench markers")
    ap.add_argument("--results", help="the results file, as the README links it")
    ap.add_argument("--extra", help="a markdown file appended to the README block")
    args = ap.parse_args()
    if args.check_readme:
        problems = check_readme(args.check_readme)
        for p in problems:
            print("report.py: " + p, file=sys.stderr)
        sys.exit(1 if problems else 0)
    if not args.tsv or not args.svg:
        ap.error("a TSV and --svg are needed (or --check-readme)")

    rows = read_rows(args.tsv)
    if not rows:
        sys.exit("report.py: no rows in " + args.tsv)
    with open(args.svg, "w") as f:
        f.write(chart(rows, args.title, args.subtitle))
    sys.stdout.write(section(rows, args, os.path.basename(args.svg)))
    if args.readme:
        if not args.results:
            sys.exit("report.py: --readme needs --results")
        update_readme(args.readme, readme_block(rows, args))


if __name__ == "__main__":
    main()

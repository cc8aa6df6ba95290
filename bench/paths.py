#!/usr/bin/env python3
"""bench/paths.py: the URL paths of one docs/workload.md scenario, one per line, for bench/loadgen.

    bench/paths.py S1z --users 100000 --devices 10000 --count 50000 > build/bench/s1z.paths

The same shapes and distributions as the wrk scripts in bench/wrk/ (keep the two in step):
uniform or Zipf(1.1) ids, where rank k is id k, so the hot ids are the small ones. The
sequence is seeded with the scenario's docs/workload.md seed, so every run replays the same paths.
loadgen plays the file round-robin from the first line. Standard library only.
"""
import argparse
import bisect
import random
import sys

ZIPF_S = 1.1

# id -> (seed, id distribution, the table size the id ranges over, URL template)
SCENARIOS = {
    "S1u": (1, "uniform", "users", "/users?id=eq.{}&select=id,username,email"),
    "S1z": (11, "zipf", "users", "/users?id=eq.{}&select=id,username,email"),
    "S2": (1, "uniform", "categories",
           "/products?category_id=eq.{}&select=id,name,price,product_details(description)"
           "&order=id&limit=50"),
    "S3": (3, "zipf", "devices",
           "/readings?device_id=eq.{}&select=temperature,ts&order=ts.desc&limit=100"),
    "S4": (4, "zipf", "users",
           "/orders?user_id=eq.{}&status=eq.completed&order=created_at.desc&limit=20"),
}
CATEGORIES = 200  # product categories are 1..200 at every scale


def zipf_sampler(rng, n, s):
    """Draws ranks 1..n with P(k) proportional to 1 / k^s (a CDF and a binary search)."""
    cdf, total = [], 0.0
    for k in range(1, n + 1):
        total += 1.0 / k ** s
        cdf.append(total)
    return lambda: min(bisect.bisect_left(cdf, rng.random() * total), n - 1) + 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--users", type=int, default=100000)
    ap.add_argument("--devices", type=int, default=10000)
    ap.add_argument("--count", type=int, default=50000, help="paths to write")
    args = ap.parse_args()

    seed, dist, table, template = SCENARIOS[args.scenario]
    n = {"users": args.users, "devices": args.devices, "categories": CATEGORIES}[table]
    rng = random.Random(seed)
    draw = zipf_sampler(rng, n, ZIPF_S) if dist == "zipf" else (lambda: rng.randint(1, n))
    out = sys.stdout
    for _ in range(args.count):
        out.write(template.format(draw()))
        out.write("\n")


if __name__ == "__main__":
    main()

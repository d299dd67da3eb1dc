"""Profile one page in-process with pyinstrument, against the data `bench.run --keep` left.

    python -m bench.profile contacts            # a scenario name from bench.run
    python -m bench.profile invoices_10k -n 200 --html var/bench/invoices.html

Runs the request through the test Client (whole middleware stack, same settings as the
benchmark's server) n times and prints where the time goes, and the SQL of one request.
"""

import argparse
import json
import os
import random
import sys
import time

from bench.run import KEEP_DIR, _environment


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("scenario")
    parser.add_argument("-n", type=int, default=100, help="requests to profile")
    parser.add_argument("--html", help="also write pyinstrument's HTML report here")
    parser.add_argument("--sql", action="store_true", help="print the SQL of one request")
    args = parser.parse_args(argv)

    state = KEEP_DIR / "seeded.json"
    if not state.exists():
        raise SystemExit("Run `python -m bench.run --keep` first.")
    admin_url = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    db_name = os.environ.get("BENCH_DB_NAME", "billing_bench")
    os.environ.update(_environment(KEEP_DIR, f"{admin_url}/{db_name}"))
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from pyinstrument import Profiler

    from bench import measure, run, seed

    seeded = seed.Seeded(**json.loads(state.read_text()))
    for key in ("owners", "latest_invoice", "with_pdf"):
        setattr(seeded, key, {int(k): v for k, v in getattr(seeded, key).items()})
    cookies = measure.session_cookies(seeded.owners.values())
    targets = run._scenarios(seeded, cookies, random.Random(7))[args.scenario]
    clients = [(path, measure._client(cookie)) for path, cookie in targets]

    def one(i):
        path, client = clients[i % len(clients)]
        response = client.get(path)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
        response.close()
        assert response.status_code == 200, (path, response.status_code)

    for i in range(len(clients)):  # warm: templates compiled, connections open
        one(i)
    if args.sql:
        with CaptureQueriesContext(connection) as captured:
            one(0)
        for query in captured.captured_queries:
            print(f"{query['time']:>6} s  {query['sql']}")
    profiler = Profiler(interval=0.0005)
    start = time.perf_counter()
    profiler.start()
    for i in range(args.n):
        one(i)
    profiler.stop()
    elapsed = (time.perf_counter() - start) / args.n * 1000
    print(f"{args.scenario}: {elapsed:.2f} ms per request in-process ({args.n} requests)")
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        with open(args.html, "w") as fh:
            fh.write(profiler.output_html())
    return 0


if __name__ == "__main__":
    sys.exit(main())

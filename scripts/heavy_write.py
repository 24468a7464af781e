#!/usr/bin/env python3
"""Issue 18, finding 2: with the largest annotations the limits allow written back to back by
one client, how long does another client's small write wait? A light writer POSTs 20 small
annotations/s for 30 s; a heavy writer POSTs annotations with every bound at its limit (see
`heavy_body`), the body just under the 4 MiB cap, back to back in the middle third.

    scripts/heavy_write.py HOST PORT TOKEN    # a running server and a developer token
"""
import http.client, json, sys, time, random, string
host, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def post(conn, body):
    t0 = time.monotonic()
    conn.request("POST", "/api/annotations", body=body, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    r = conn.getresponse(); r.read()
    return r.status, time.monotonic() - t0
WORDS = [''.join(random.choice(string.ascii_lowercase) for _ in range(random.randint(2, 10))) for _ in range(5000)]
def heavy_body(k, root):
    """Every bound at its limit: tags at h's 1,000 characters (two bytes each, under the 2 KiB
    byte bound), document links at h's 3,000 characters, a 16 KiB URI, 500 references, 50
    selectors, and text filling the body to just under the 4 MiB cap. The thread root must exist
    (h checks `references[0]`); the 499 ancestors after it need not."""
    ann = {
        "uri": "https://heavy.example/" + "p" * (16 * 1024 - 40) + str(k),
        "tags": [f"{k}-{i}-" + "\u00e9" * (1000 - len(f"{k}-{i}-")) for i in range(100)],
        "group": "__world__", "permissions": {"read": ["group:__world__"]},
        "target": [{"source": "https://heavy.example/", "selector": [
            {"type": "TextQuoteSelector", "exact": "e" * 8000 + str(i), "prefix": "p" * 1000,
             "suffix": "s" * 1000} for i in range(50)]}],
        "document": {"title": ["Heavy"], "link": [
            {"href": f"https://heavy.example/{k}/{i}/" + "\u00e9" * (3000 - 30)} for i in range(98)]},
    }
    ann["references"] = [root] + [f"{k:04d}{i:018d}" for i in range(499)]
    rest = 4 * 1024 * 1024 - len(json.dumps(ann).encode()) - 4096
    words = []
    size = 0
    while size < rest:
        w = random.choice(WORDS)
        words.append(w)
        size += len(w) + 1
    ann["text"] = " ".join(words)[:rest]
    return json.dumps(ann)
T = 30.0


def light_writer(start, out):
    conn = http.client.HTTPConnection(host, port)
    k = 0
    while time.monotonic() < start + T:
        time.sleep(max(0, start + k / 20.0 - time.monotonic()))
        body = json.dumps({"uri": f"https://light.example/{k}", "text": "small", "group": "__world__",
                           "permissions": {"read": ["group:__world__"]}})
        s, d = post(conn, body)
        out.append((time.monotonic() - start, s, d))
        k += 1


def heavy_writer(start, out):
    # Its own process, so building and sending 4 MiB bodies never holds the light writer's GIL.
    conn = http.client.HTTPConnection(host, port)
    status, _ = post(conn, json.dumps({"uri": "https://heavy.example/root", "text": "root",
                                       "group": "__world__",
                                       "permissions": {"read": ["group:__world__"]}}))
    conn.request("GET", "/api/search?uri=https://heavy.example/root&limit=1",
                 headers={"Authorization": f"Bearer {token}"})
    root = json.loads(conn.getresponse().read())["rows"][0]["id"]
    bodies = [heavy_body(k, root) for k in range(3)]
    time.sleep(max(0, start + T / 3 - time.monotonic()))
    k = 0
    while time.monotonic() < start + 2 * T / 3:
        s, d = post(conn, bodies[k % 3].replace('"Heavy"', f'"Heavy {k}"'))
        out.put((s, d))
        k += 1
    out.put(None)
    print("heavy body bytes", len(bodies[0].encode()), file=sys.stderr)


def q(xs, p):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p * len(xs)))] * 1000, 1)


if __name__ == "__main__":
    import multiprocessing
    start = time.monotonic() + 5.0  # the heavy process builds its bodies meanwhile
    results = multiprocessing.Queue()
    proc = multiprocessing.Process(target=heavy_writer, args=(start, results))
    proc.start()
    time.sleep(max(0, start - time.monotonic()))
    light = []
    light_writer(start, light)
    heavy = []
    while (item := results.get()) is not None:
        heavy.append(item)
    proc.join()
    before = [d for t, s, d in light if t < T / 3]
    during = [d for t, s, d in light if T / 3 + 0.5 < t < 2 * T / 3]
    print(json.dumps({
        "heavy_posts": len(heavy), "heavy_status": sorted(set(s for s, _ in heavy)),
        "heavy_ms": {"p50": q([d for _, d in heavy], 0.5), "max": q([d for _, d in heavy], 1.0)},
        "light_status": sorted(set(s for _, s, _ in light)),
        "light_before_ms": {"n": len(before), "p50": q(before, 0.5), "p99": q(before, 0.99), "max": q(before, 1.0)},
        "light_during_ms": {"n": len(during), "p50": q(during, 0.5), "p99": q(during, 0.99), "max": q(during, 1.0)},
    }, indent=1))

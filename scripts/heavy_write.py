#!/usr/bin/env python3
"""Issue 18, finding 2: with the largest annotations the limits allow written back to back by
one client, how long does another client's small write wait? A light writer POSTs 20 small
annotations/s for 30 s; a heavy writer POSTs a ~2.9 MB annotation (2.5 MB of text, 100 tags of
900 characters, a 16 KiB URI, 50 large selectors, 98 document links of 2,900 characters: each
bound at or near its limit, the body under the 4 MiB cap) back to back in the middle third.

    scripts/heavy_write.py HOST PORT TOKEN    # a running server and a developer token
"""
import http.client, json, sys, threading, time, statistics, random, string
host, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def post(conn, body):
    t0 = time.monotonic()
    conn.request("POST", "/api/annotations", body=body, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    r = conn.getresponse(); r.read()
    return r.status, time.monotonic() - t0
words = [''.join(random.choice(string.ascii_lowercase) for _ in range(random.randint(2, 10))) for _ in range(5000)]
def heavy_body(k):
    text = ' '.join(random.choice(words) for _ in range(330_000))[:2_500_000]
    return json.dumps({
        "uri": "https://heavy.example/" + "p" * (16 * 1024 - 40) + str(k),
        "text": text,
        "tags": [f"tag{k}-{i}-" + "t" * 900 for i in range(100)],
        "group": "__world__", "permissions": {"read": ["group:__world__"]},
        "target": [{"source": "https://heavy.example/", "selector": [
            {"type": "TextQuoteSelector", "exact": "e" * 2000 + str(i), "prefix": "p" * 500, "suffix": "s" * 500} for i in range(50)]}],
        "document": {"title": ["Heavy"], "link": [{"href": f"https://heavy.example/{k}/link{i}/" + "l" * 2900} for i in range(98)]},
    })
T = 30.0
light = []
heavy = []
stop = time.monotonic() + T
start = time.monotonic()
def light_writer():
    conn = http.client.HTTPConnection(host, port)
    k = 0
    while time.monotonic() < stop:
        due = start + k / 20.0
        time.sleep(max(0, due - time.monotonic()))
        body = json.dumps({"uri": f"https://light.example/{k}", "text": "small", "group": "__world__", "permissions": {"read": ["group:__world__"]}})
        s, d = post(conn, body)
        light.append((time.monotonic() - start, s, d))
        k += 1
def heavy_writer():
    conn = http.client.HTTPConnection(host, port)
    bodies = [heavy_body(k) for k in range(3)]
    print("heavy body bytes", len(bodies[0]), file=sys.stderr)
    time.sleep(max(0, start + T / 3 - time.monotonic()))
    k = 0
    while time.monotonic() < start + 2 * T / 3:
        s, d = post(conn, bodies[k % 3].replace('"Heavy"', f'"Heavy {k}"'))
        heavy.append((s, d)); k += 1
threads = [threading.Thread(target=light_writer), threading.Thread(target=heavy_writer)]
[t.start() for t in threads]; [t.join() for t in threads]
def q(xs, p): xs = sorted(xs); return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000
before = [d for t, s, d in light if t < T / 3]
during = [d for t, s, d in light if T / 3 + 0.5 < t < 2 * T / 3]
print(json.dumps({
    "heavy_posts": len(heavy), "heavy_status": sorted(set(s for s, _ in heavy)),
    "heavy_ms": {"p50": q([d for _, d in heavy], 0.5), "max": q([d for _, d in heavy], 1.0)},
    "light_status": sorted(set(s for _, s, _ in light)),
    "light_before_ms": {"n": len(before), "p50": q(before, 0.5), "p99": q(before, 0.99), "max": q(before, 1.0)},
    "light_during_ms": {"n": len(during), "p50": q(during, 0.5), "p99": q(during, 0.99), "max": q(during, 1.0)},
}, indent=1))

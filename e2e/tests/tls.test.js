// The shipped deploy/nginx.conf with TLS in front of a server, and the unmodified client
// through it over https:// and wss:// (issue 17): a real nginx with a self-signed certificate
// made here by openssl, Chromium told to accept it. Skipped without nginx, except under CI.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { E2E, Server, artifact, freePort, launchBrowser, waitFor } from "./helpers.js";

const NGINX = "/usr/sbin/nginx";
const missing = !existsSync(NGINX);
if (missing && process.env.CI === "true") throw new Error("CI=true but nginx is not installed");

let server;
let browser;
let nginx;
let tlsPort;
let plainPort;

/** The shipped config, listening on free ports with our certificate, in front of `upstream`. */
function configFor(dir, upstream) {
  const shipped = readFileSync(resolve(E2E, "../deploy/nginx.conf"), "utf8");
  for (const needle of ["listen 443 ssl;", "listen 80;", "/etc/ssl/certs/annotations.example.org.crt", "/etc/ssl/private/annotations.example.org.key"]) {
    assert.ok(shipped.includes(needle), `the shipped config has ${needle}`);
  }
  return shipped
    .replace("listen 443 ssl;", `listen 127.0.0.1:${tlsPort} ssl;`)
    .replace("listen 80;", `listen 127.0.0.1:${plainPort};`)
    .replace("/etc/ssl/certs/annotations.example.org.crt", join(dir, "cert.pem"))
    .replace("/etc/ssl/private/annotations.example.org.key", join(dir, "key.pem"))
    .replace(/127\.0\.0\.1:500[123]/g, upstream);
}

before(async () => {
  if (missing) return;
  tlsPort = await freePort();
  plainPort = await freePort();
  const publicUrl = `https://127.0.0.1:${tlsPort}`;
  server = await Server.start({ publicUrl });
  const dir = mkdtempSync(join(tmpdir(), "scholia-nginx-"));
  // nginx's workers drop to an unprivileged user and write temporary files under the prefix.
  chmodSync(dir, 0o777);
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
  writeFileSync(join(dir, "nginx.conf"), configFor(dir, `127.0.0.1:${server.port}`));
  nginx = spawn(NGINX, ["-p", dir, "-c", join(dir, "nginx.conf"), "-g", "daemon off; pid nginx.pid; error_log stderr warn;"], { stdio: ["ignore", "inherit", "inherit"] });
  await waitFor("nginx to answer", async () => {
    try {
      return (await fetch(`http://127.0.0.1:${plainPort}/`, { redirect: "manual" })).status === 301;
    } catch {
      return false;
    }
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  nginx?.kill("SIGTERM");
  if (server) await server.stop();
});

test("the unmodified client works over https and wss through the shipped nginx config", { skip: missing && "nginx is not installed" }, async () => {
  const publicUrl = `https://127.0.0.1:${tlsPort}`;
  // Plain HTTP is sent to HTTPS.
  const r = await fetch(`http://127.0.0.1:${plainPort}/demo`, { redirect: "manual" });
  assert.equal(r.status, 301);
  assert.match(r.headers.get("location"), /^https:\/\//);

  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  await context.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
  const page = await context.newPage();
  const problems = [];
  const sockets = [];
  const received = [];
  page.on("pageerror", (e) => problems.push(`uncaught: ${e.message}`));
  page.on("response", (resp) => {
    if (resp.status() >= 400) problems.push(`HTTP ${resp.status()}: ${resp.url()}`);
    if (resp.url().startsWith("http://")) problems.push(`plain HTTP: ${resp.url()}`);
  });
  page.on("websocket", (ws) => {
    sockets.push(ws.url());
    ws.on("framereceived", (f) => {
      try {
        received.push(JSON.parse(f.payload));
      } catch {
        /* control frames */
      }
    });
  });
  await page.goto(`${publicUrl}/demo?user=alice`);
  const sidebar = page.locator("hypothesis-sidebar iframe").contentFrame();
  await sidebar.locator('[data-testid="user-menu"]').waitFor({ timeout: 30000 });
  await waitFor("the sidebar's socket", () => sockets.length > 0, 15000);
  assert.ok(sockets.every((u) => u.startsWith(`wss://127.0.0.1:${tlsPort}/ws`)), sockets.join(", "));
  await waitFor("the sidebar's filter to reach the server", async () => (await server.metric('scholia_ws_messages_in_total{type="filter"}')) >= 1, 30000);

  // Bob writes (straight to the node); Alice's sidebar hears it over wss:// through nginx.
  const bobToken = server.admin("token", "create", "bob");
  await server.api("POST", "/api/annotations", bobToken, {
    uri: `${publicUrl}/demo`,
    group: "__world__",
    text: "Over TLS, through nginx",
    permissions: { read: ["group:__world__"] },
    target: [{ source: `${publicUrl}/demo` }],
  });
  const button = sidebar.locator('[data-testid="notification"]');
  await button.filter({ hasText: "1" }).waitFor({ timeout: 10000 });
  await button.click();
  await sidebar.locator('[data-testid="thread-card"]').filter({ hasText: "Over TLS, through nginx" }).waitFor({ timeout: 5000 });
  assert.ok(received.some((m) => m.type === "annotation-notification"));
  await page.screenshot({ path: artifact("sidebar-over-tls.png") });

  // A site page through the proxy: links use the public https:// address.
  const home = await context.newPage();
  await home.goto(`${publicUrl}/stream`);
  await home.locator('#status[data-state="live"]').waitFor({ timeout: 10000 });
  assert.equal(await home.locator("#status").getAttribute("data-ws"), `wss://127.0.0.1:${tlsPort}/ws`);
  await context.close();
  assert.deepEqual(problems, []);
});

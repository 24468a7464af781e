// The harness: a real scholia server (the binary cargo built) in demo mode with the pinned
// Hypothesis client, Debian's Chromium driven by playwright-core, and helpers that wait for
// conditions (never for fixed times).

import { spawn, execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const E2E = resolve(here, "..");
export const BIN = process.env.SCHOLIA_BIN ?? resolve(E2E, "../target/debug/scholia");
export const ASSETS = resolve(E2E, "node_modules/hypothesis/build");
export const ARTIFACTS = resolve(E2E, "artifacts");
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Polls `check` until it returns a truthy value, failing after `ms` with `what`. */
export async function waitFor(what, check, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
    srv.on("error", fail);
  });
}

/** A scholia server process; `restart()` stops it with SIGTERM and starts it again. */
export class Server {
  /**
   * `publicUrl`: where browsers reach it (a proxy in front); `base` stays the direct address.
   * `args`: more `serve` flags.
   */
  static async start({ publicUrl, args = [] } = {}) {
    const s = new Server();
    s.dataDir = mkdtempSync(join(tmpdir(), "scholia-e2e-"));
    s.port = await freePort();
    s.base = `http://127.0.0.1:${s.port}`;
    s.publicUrl = publicUrl;
    s.args = args;
    await s.launch();
    return s;
  }

  async launch() {
    const extra = [...(this.publicUrl ? ["--public-url", this.publicUrl] : []), ...(this.args ?? [])];
    this.proc = spawn(
      BIN,
      ["--data-dir", this.dataDir, "serve", "--listen", `127.0.0.1:${this.port}`, "--client-assets", ASSETS, "--demo", ...extra],
      { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, RUST_LOG: "warn" } },
    );
    this.exited = new Promise((ok) => this.proc.on("exit", (code) => ok(code)));
    await waitFor("the server to answer", async () => {
      try {
        return (await fetch(`${this.base}/_status`)).ok;
      } catch {
        return false;
      }
    });
  }

  async stop() {
    this.proc.kill("SIGTERM");
    return this.exited;
  }

  async restart() {
    const code = await this.stop();
    await this.launch();
    return code;
  }

  /** Runs an admin command against the server's database; returns its last line. */
  admin(...args) {
    return this.adminWithInput("", ...args);
  }

  /** The same, with `input` on the command's standard input. */
  adminWithInput(input, ...args) {
    const out = execFileSync(BIN, ["--data-dir", this.dataDir, ...args], { encoding: "utf8", input });
    return out.trim().split("\n").pop();
  }

  /** A counter from /metrics (0 when absent). */
  async metric(name) {
    const text = await (await fetch(`${this.base}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(name));
    return line ? Number(line.split(" ").pop()) : 0;
  }

  async api(method, path, token, body) {
    const r = await fetch(`${this.base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/**
 * Opens the demo page as `user` (anonymous when null) and records what the test must fail on: uncaught errors and
 * console errors from the page or client, and any request to the server that fails or gets a
 * 4xx/5xx. Also records the frames the sidebar's WebSocket receives.
 */
export async function openDemo(browser, server, user) {
  const url = user ? `${server.base}/demo?user=${user}` : `${server.base}/demo`;
  return openPage(browser, server, url, Boolean(user));
}

/** Opens any page that embeds the client; waits for the sidebar (logged in or not). */
export async function openPage(browser, server, url, loggedIn) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // Nothing may leave the machine: the client must get everything from our server.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
  const page = await context.newPage();
  const problems = [];
  const received = [];
  page.on("pageerror", (e) => problems.push(`uncaught: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  page.on("requestfailed", (r) => {
    // Sockets and requests cut off by the server restart (scenario 4) are expected to fail.
    if (!page.__restarting) problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on("response", (r) => {
    if (!r.url().startsWith(server.base)) return;
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
    const path = new URL(r.url()).pathname
      .replace(/\/api\/annotations\/[^/]+/, "/api/annotations/:id")
      .replace(/\/api\/groups\/[^/]+/, "/api/groups/:id")
      .replace(/\/client\/build\/.*/, "/client/build/…");
    clientRequests.add(`${r.request().method()} ${path} → ${r.status()}`);
  });
  page.on("websocket", (ws) => {
    ws.on("framereceived", (f) => {
      try {
        received.push(JSON.parse(f.payload));
      } catch {
        /* control frames */
      }
    });
  });
  await page.goto(url);
  const sidebar = page.locator("hypothesis-sidebar iframe").contentFrame();
  // Logged in: the user menu; anonymous: the "Log in" link.
  const ready = loggedIn ? '[data-testid="user-menu"]' : '[data-testid="login-links"]';
  await sidebar.locator(ready).waitFor({ timeout: 30000 });
  return { context, page, sidebar, problems, received };
}

/** Logs in through the sidebar's "Log in" popup (first-party OAuth), as a real user would. */
export async function logInThroughPopup(session, username, password) {
  const popup = session.context.waitForEvent("page");
  await session.sidebar.locator('[data-testid="login-links"]').getByText("Log in").click();
  const login = await popup;
  await login.locator('input[name="username"]').fill(username);
  await login.locator('input[name="password"]').fill(password);
  await login.locator('button[type="submit"]').click();
  await session.sidebar.locator('[data-testid="user-menu"]').waitFor({ timeout: 15000 });
}

/** Every (method, route, status) the client asked of the server, over all pages. */
export const clientRequests = new Set();

export function artifact(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

/** A WebSocket client subscribed the way the sidebar subscribes to `uri`. */
export async function sidebarLikeSocket(server, token, uri) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?access_token=${token}`);
  const messages = [];
  ws.addEventListener("message", (e) => messages.push(JSON.parse(e.data)));
  await new Promise((ok, fail) => {
    ws.addEventListener("open", ok);
    ws.addEventListener("error", fail);
  });
  ws.send(JSON.stringify({ messageType: "client_id", value: "e2e-bob-socket" }));
  ws.send(JSON.stringify({ filter: { match_policy: "include_any", clauses: [{ field: "/uri", operator: "one_of", value: [uri], case_sensitive: false }], actions: { create: true, update: true, delete: true } } }));
  ws.send(JSON.stringify({ type: "ping", id: 1 }));
  await waitFor("the test socket's filter", () => messages.some((m) => m.type === "pong"));
  return { ws, messages };
}

/** An HS256 JWT grant token, as a publisher's server would mint it (hypothesis-client.md §4.2). */
export function grantToken({ clientId, secret, userid, audience }) {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const unsigned = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ iss: clientId, sub: userid, aud: audience, nbf: now - 5, exp: now + 300 })}`;
  const signature = createHmac("sha256", secret).update(unsigned).digest("base64url");
  return `${unsigned}.${signature}`;
}

/**
 * A publisher's page on another origin (its own port) that embeds the client for a user of
 * the publisher's authority, focused on `group` through a JSON config block.
 */
export async function publisherPage(server, { token, authority, group }) {
  const { createServer: createHttpServer } = await import("node:http");
  const html = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Publisher article</title></head>
<body><h1>A publisher's article</h1><p>Text worth annotating, on a site of its own.</p>
<script class="js-hypothesis-config" type="application/json">${JSON.stringify({ group })}</script>
<script>window.hypothesisConfig = () => (${JSON.stringify({ openSidebar: true, services: [{ apiUrl: `${server.base}/api/`, authority, grantToken: token }] })});</script>
<script src="${server.base}/embed.js"></script></body></html>`;
  const site = createHttpServer((req, res) => {
    if (req.url === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(html);
  });
  await new Promise((ok) => site.listen(0, "127.0.0.1", ok));
  return { site, url: `http://127.0.0.1:${site.address().port}/article` };
}

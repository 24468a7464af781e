// The site's pages with the unmodified client (issue 17): every link the sidebar and its
// menus show leads to a working page; a logged-in user joins a private group from its invite
// link and the sidebar's group list shows it at once; the share link of a card opens the
// annotation; /stream shows a new public annotation without a reload. Screenshots of each page
// go to e2e/artifacts/ (docs/ holds the committed ones).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { Server, artifact, launchBrowser, openDemo, waitFor } from "./helpers.js";

let server;
let browser;
let alice;
let aliceToken;
let bobToken;
/** Problems on site pages (not the sidebar): 4xx/5xx answers, page errors. */
const problems = [];

before(async () => {
  server = await Server.start({ args: ["--open-signup"] });
  browser = await launchBrowser();
  aliceToken = server.admin("token", "create", "alice");
  bobToken = server.admin("token", "create", "bob");
  server.adminWithInput("alice's long password\n", "user", "passwd", "alice");
  alice = await openDemo(browser, server, "alice");
});

after(async () => {
  await browser?.close();
  if (server) await server.stop();
});

/** Opens `url` in a new tab of `context`, recording any failed answer of our server. */
async function visit(context, url) {
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`uncaught on ${url}: ${e.message}`));
  page.on("response", (r) => {
    if (r.url().startsWith(server.base) && r.status() >= 400) {
      problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()} (from ${url})`);
    }
  });
  const response = await page.goto(url);
  return { page, response };
}

/** Logs the demo page's context in to the site (its pages use a cookie, not the sidebar's token). */
async function logInToSite(context, username, password) {
  const { page } = await visit(context, `${server.base}/login`);
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('button[type="submit"]').click();
  await page.getByText(`Logged in as`).waitFor({ timeout: 10000 });
  return page;
}

function cardIn(session, text) {
  return session.sidebar.locator('[data-testid="thread-card"]').filter({ hasText: text });
}

/** Every link (`a[href]`) under `locator`, as absolute URLs. */
async function hrefs(locator) {
  return locator.locator("a[href]").evaluateAll((as) => as.map((a) => a.href));
}

test("A: every link the sidebar and its menus show leads to a working page", async () => {
  const post = await server.api("POST", "/api/annotations", bobToken, {
    uri: `${server.base}/demo`,
    group: "__world__",
    text: "Bob's note with a tag",
    tags: ["e2e-tag"],
    permissions: { read: ["group:__world__"] },
    target: [{ source: `${server.base}/demo` }],
  });
  await alice.page.reload();
  const card = cardIn(alice, "Bob's note with a tag");
  await card.waitFor({ timeout: 15000 });
  const links = new Set(await hrefs(card));

  // The share link of the card.
  await card.locator('button[title="Share"]').click();
  const share = await card.locator('input[aria-label^="Use this URL to share"]').inputValue();
  assert.equal(share, `${server.base}/a/${post.id}`);
  links.add(share);

  // The top bar's menus (user menu, groups menu and each group's submenu).
  const topBar = alice.sidebar.locator('[data-testid="top-bar"]');
  const toggles = topBar.locator('[data-testid="menu-toggle-button"]');
  for (let i = 0; i < (await toggles.count()); i++) {
    await toggles.nth(i).click();
    const menu = alice.sidebar.locator('[data-testid="menu-content"]');
    await menu.first().waitFor({ timeout: 5000 });
    const subs = menu.locator('[data-testid="submenu-toggle"]');
    for (let j = 0; j < (await subs.count()); j++) await subs.nth(j).click();
    for (const h of await hrefs(menu)) links.add(h);
    await alice.page.keyboard.press("Escape");
  }

  // Logged out, the sidebar offers "Sign up" (a button that opens the page in a new window).
  const anon = await openDemo(browser, server, null);
  for (const h of await hrefs(anon.sidebar.locator('[data-testid="login-links"]'))) links.add(h);
  const popup = anon.context.waitForEvent("page");
  await anon.sidebar.locator('[data-testid="login-links"]').getByText("Sign up").click();
  const signup = await popup;
  await signup.waitForLoadState();
  links.add(signup.url());
  await anon.context.close();

  const ours = [...links].filter((h) => h.startsWith(server.base));
  for (const expected of ["/u/", "/search?q=tag", "/a/", "/account/settings", "/groups/new", "/signup", "/groups/__world__"]) {
    assert.ok(ours.some((h) => h.startsWith(server.base + expected)), `no ${expected} link among ${ours.join(", ")}`);
  }
  const context = await browser.newContext();
  await logInToSite(context, "alice", "alice's long password");
  for (const url of ours) {
    const { page, response } = await visit(context, url);
    assert.ok(response.status() < 400, `${url}: ${response.status()}`);
    await page.close();
  }
  await context.close();
  assert.deepEqual(problems, []);
});

test("B: a logged-in user opens a private group's invite link, joins, and the sidebar lists it", async () => {
  const group = await server.api("POST", "/api/groups", bobToken, { name: "Book club", description: "Bob's readers", type: "private" });
  const invite = group.links.html;
  assert.ok(invite.startsWith(`${server.base}/groups/${group.id}/`), invite);
  // Alice, whose sidebar is open, logs in to the site in the same browser and follows the link.
  await logInToSite(alice.context, "alice", "alice's long password");
  const { page } = await visit(alice.context, invite);
  await page.screenshot({ path: artifact("site-group-invite.png"), fullPage: true });
  await page.getByRole("button", { name: "Join Book club" }).click();
  await page.getByRole("button", { name: "Leave this group" }).waitFor({ timeout: 10000 });
  await page.screenshot({ path: artifact("site-group.png"), fullPage: true });
  // The sidebar heard the group-join on its socket and shows the group, with no reload.
  await waitFor("the session-change on the sidebar's socket", () =>
    alice.received.some((m) => m.type === "session-change" && m.action === "group-join"), 10000);
  await alice.page.bringToFront();
  const groupsMenu = alice.sidebar.locator('[data-testid="top-bar"] [data-testid="menu-toggle-button"]').first();
  await groupsMenu.click();
  await alice.sidebar.locator('[data-testid="menu-content"]').getByText("Book club").waitFor({ timeout: 10000 });
  await alice.page.keyboard.press("Escape");
  await page.close();
  assert.deepEqual(problems, []);
});

test("C: the share link of a card opens the annotation", async () => {
  const post = await server.api("POST", "/api/annotations", bobToken, {
    uri: `${server.base}/demo`,
    group: "__world__",
    text: "Bob's note to share",
    permissions: { read: ["group:__world__"] },
    target: [{ source: `${server.base}/demo` }],
  });
  await alice.page.reload();
  const card = cardIn(alice, "Bob's note to share");
  await card.waitFor({ timeout: 15000 });
  await card.locator('button[title="Share"]').click();
  const share = await card.locator('input[aria-label^="Use this URL to share"]').inputValue();
  // A reader who gets the link: the demo page (which loads the client) opens on that annotation.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const { page } = await visit(context, share);
  assert.equal(page.url(), `${server.base}/demo#annotations:${post.id}`);
  const sidebar = page.locator("hypothesis-sidebar iframe").contentFrame();
  await sidebar.locator('[data-testid="thread-card"]').filter({ hasText: "Bob's note to share" }).waitFor({ timeout: 20000 });
  await page.screenshot({ path: artifact("site-share-link.png") });
  // The plain view of the same annotation.
  const plain = await visit(context, `${share}?view=page`);
  await plain.page.getByText("Bob's note to share").waitFor({ timeout: 5000 });
  await plain.page.screenshot({ path: artifact("site-annotation.png"), fullPage: true });
  await context.close();
  assert.deepEqual(problems, []);
});

test("D: /stream shows a new public annotation without a reload", async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const { page } = await visit(context, `${server.base}/stream`);
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 10000 });
  const loads = [];
  page.on("load", () => loads.push(page.url()));
  await server.api("POST", "/api/annotations", aliceToken, {
    uri: "https://example.org/article",
    group: "__world__",
    text: "Fresh on the stream <b>not bold</b>",
    tags: ["live"],
    permissions: { read: ["group:__world__"] },
    target: [{ source: "https://example.org/article", selector: [{ type: "TextQuoteSelector", exact: "a quoted line" }] }],
  });
  const fresh = page.locator("#stream article.card").first();
  await fresh.filter({ hasText: "Fresh on the stream <b>not bold</b>" }).waitFor({ timeout: 5000 });
  assert.equal(await fresh.locator("b").count(), 0, "what users wrote is text, never HTML");
  assert.deepEqual(loads, [], "the page did not reload");
  await page.screenshot({ path: artifact("site-stream.png"), fullPage: true });
  // The other pages, for the docs.
  await logInToSite(context, "alice", "alice's long password");
  for (const [path, name] of [["/", "home"], ["/users/alice", "user"], ["/account/settings", "account"], ["/account/developer", "developer"], ["/groups/new", "new-group"], ["/signup", "signup"]]) {
    const v = await visit(context, `${server.base}${path}`);
    await v.page.screenshot({ path: artifact(`site-${name}.png`), fullPage: true });
    await v.page.close();
  }
  await context.close();
  assert.deepEqual(problems, []);
});

test("E: a newcomer signs up from the sidebar's Sign up and the sidebar is logged in", async () => {
  const anon = await openDemo(browser, server, null);
  try {
    const popup = anon.context.waitForEvent("page");
    await anon.sidebar.locator('[data-testid="login-links"]').getByText("Sign up").click();
    const signup = await popup;
    await signup.locator('input[name="username"]').waitFor({ timeout: 10000 });
    await signup.screenshot({ path: artifact("site-signup-popup.png") });
    await signup.locator('input[name="username"]').fill("newcomer");
    await signup.locator('input[name="email"]').fill("newcomer@example.org");
    await signup.locator('input[name="password"]').fill("a long enough password");
    await signup.locator('button[type="submit"]').click();
    // The popup comes back to the authorize step, hands the sidebar its code and closes.
    await anon.sidebar.locator('[data-testid="user-menu"]').waitFor({ timeout: 15000 });
    await waitFor("the newcomer's socket", () =>
      anon.received.some((m) => m.type === "whoyouare" && m.userid === "acct:newcomer@127.0.0.1"), 15000);
    assert.deepEqual(anon.problems, []);
  } finally {
    await anon.context.close();
  }
  assert.deepEqual(problems, []);
});

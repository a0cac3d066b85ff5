// The web app's OIDC path in headless Chromium (Debian's /usr/bin/chromium through playwright-core)
// against a running `servanda up` in OIDC mode and the Keycloak stand-in tests/oidc_provider.py
// (Keycloak itself cannot be installed here; see docs/web.md). Started by tests/test_web_oidc_e2e.py.
//
//   node web/e2e/oidc.mjs <baseUrl> <outdir> <issuer> <email> <password>
//
// Steps: the sign-in page offers single sign-on (axe); with the provider unreachable it says so (not
// "server unreachable") → the provider's form (filled with the keyboard)
// → back in the app as that user (dashboard); the access token (short-lived) is refreshed silently at
// the provider's token endpoint and a request after the first token's expiry succeeds without a 401 or
// a dialog; a second tab shares the session through four more (rotating) refreshes without a refused
// one; the provider becomes unreachable mid-session → the notice "Anmeldedienst nicht erreichbar" (axe),
// the session and the page stay → back up, "Jetzt erneut versuchen" renews the session and requests
// succeed; the provider ends the session mid-page → the "Sitzung abgelaufen" dialog (axe) → signing in
// again returns to the page (path and query) the user was on; "Abmelden" goes through the provider's
// end-session endpoint, the app shows the sign-in page and the old refresh token is dead.
//
// Prints `STEP <name>` as it goes and one `RESULT <json>` line; exits 1 with `FAILED at step <name>: …`.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { axeCheck, launchChromium, reportFindings, watchCsp } from "./lib/browser.mjs";

const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), "screenshots");
const [baseUrl, outdir, issuer, email, password] = process.argv.slice(2);
if (!baseUrl || !outdir || !issuer || !email || !password) {
  console.error("usage: node web/e2e/oidc.mjs <baseUrl> <outdir> <issuer> <email> <password>");
  process.exit(2);
}
const STEP_TIMEOUT_MS = 30_000;
const SSO_BUTTON = "Mit Single Sign-on anmelden";
const SESSION_KEY = "servanda.session";

const results = {};
const axeFindings = [];
const cspViolations = [];
let currentStep = "start";

function log(...parts) {
  console.log(...parts);
}

async function step(name, fn) {
  currentStep = name;
  log(`STEP ${name}`);
  return fn();
}

/** Poll `check` until it returns a truthy value, or fail after `timeoutMs` with `what`. */
async function until(page, check, what, timeoutMs = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s: ${what}`);
    await page.waitForTimeout(250);
  }
}

function storedSession(page) {
  return page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? "null"), SESSION_KEY);
}

/** On the provider's page: the form takes the keyboard (autofocus, Tab, Enter). */
async function signInAtProvider(page) {
  await page.waitForURL((url) => url.href.startsWith(`${issuer}/protocol/openid-connect/auth`), { timeout: STEP_TIMEOUT_MS });
  const user = page.getByLabel("E-Mail-Adresse");
  await user.waitFor({ state: "visible" });
  await until(page, () => user.evaluate((el) => el === document.activeElement), "the provider's e-mail field has the focus");
  await page.keyboard.type(email);
  await page.keyboard.press("Tab");
  await page.keyboard.type(password);
  await page.keyboard.press("Enter");
}

async function main(page, discovery) {
  const tokenCalls = []; // grant type and status of every browser request to the token endpoint
  const apiStatuses = []; // every /api/v1 answer: status, bearer
  const endSessions = [];
  /** Record what a tab sends to the provider and the API (every tab of the context shares the session). */
  function watch(tab) {
    tab.on("response", (response) => {
      const request = response.request();
      const url = response.url();
      if (url === discovery.token_endpoint && request.method() === "POST") {
        tokenCalls.push({ grant: new URLSearchParams(request.postData() ?? "").get("grant_type"), status: response.status(), at: Date.now() });
      } else if (url.startsWith(`${baseUrl}/api/v1/`)) {
        const bearer = request.headers().authorization?.slice(7) ?? null;
        apiStatuses.push({ path: new URL(url).pathname, status: response.status(), bearer, at: Date.now() });
      }
    });
    tab.on("request", (request) => {
      if (request.url().startsWith(discovery.end_session_endpoint)) endSessions.push(request.url());
    });
  }
  watch(page);
  const refreshed = () => tokenCalls.filter((c) => c.grant === "refresh_token" && c.status === 200).length;
  const dialog = page.getByRole("alertdialog", { name: "Sitzung abgelaufen" });

  await step("the sign-in page offers single sign-on", async () => {
    await page.goto(`${baseUrl}/`);
    await page.waitForURL(/\/anmelden/, { timeout: STEP_TIMEOUT_MS });
    await page.getByRole("button", { name: SSO_BUTTON }).waitFor({ state: "visible", timeout: STEP_TIMEOUT_MS });
    log(await axeCheck(page, "oidc-01-anmelden", SCREENSHOTS, axeFindings));
  });

  await step("an unreachable provider is named as the firm's sign-in service", async () => {
    // Every request to the provider fails at the network level, as when it is down or sends no CORS headers.
    const providerRequests = (url) => url.href.startsWith(new URL(issuer).origin);
    await page.route(providerRequests, (route) => route.abort("connectionrefused"));
    await page.getByRole("button", { name: SSO_BUTTON }).click();
    const alert = page.getByRole("alert").filter({ hasText: "Der Anmeldedienst Ihrer Kanzlei ist nicht erreichbar" });
    await alert.waitFor({ state: "visible", timeout: STEP_TIMEOUT_MS });
    if (await page.getByText("Der Server ist nicht erreichbar").count()) throw new Error("our server is blamed");
    log(await axeCheck(page, "oidc-01b-anmeldedienst-nicht-erreichbar", SCREENSHOTS, axeFindings));
    await page.unroute(providerRequests);
    results.unreachableProviderNamed = true;
  });

  await step("sign in at the provider and land on the dashboard", async () => {
    await page.getByRole("button", { name: SSO_BUTTON }).click();
    await signInAtProvider(page);
    await page.waitForURL(`${baseUrl}/`, { timeout: STEP_TIMEOUT_MS });
    await page.getByRole("heading", { level: 1, name: "Übersicht" }).waitFor({ state: "visible", timeout: STEP_TIMEOUT_MS });
    const me = await page.evaluate(async (key) => {
      const { accessToken } = JSON.parse(localStorage.getItem(key));
      const response = await fetch("/api/v1/identity/me", { headers: { Authorization: `Bearer ${accessToken}` } });
      return response.json();
    }, SESSION_KEY);
    if (me.email !== email) throw new Error(`signed in as ${JSON.stringify(me)}`);
    await page.getByText(me.displayName, { exact: true }).first().waitFor({ state: "visible", timeout: STEP_TIMEOUT_MS });
    results.signedInAs = me.email;
    const code = tokenCalls.find((c) => c.grant === "authorization_code");
    if (!code || code.status !== 200) throw new Error(`code exchange: ${JSON.stringify(tokenCalls)}`);
    log(await axeCheck(page, "oidc-02-dashboard", SCREENSHOTS, axeFindings));
  });

  await step("silent refresh before the access token expires", async () => {
    const first = await storedSession(page);
    if (first?.provider !== "oidc") throw new Error(`no OIDC session stored: ${JSON.stringify(first)}`);
    results.accessTokenLifetimeS = Math.round(first.lifetimeMs / 1000);
    const budget = first.expiresAt - Date.now() + 60_000;
    await until(page, () => tokenCalls.some((c) => c.grant === "refresh_token" && c.status === 200), "a refresh at the provider", budget);
    // Past the first token's expiry: a request must go out with the refreshed token and succeed.
    await until(page, () => Date.now() > first.expiresAt + 1_000, "the first access token expired", budget);
    const before = apiStatuses.length;
    await page.getByRole("link", { name: "Katalog" }).click();
    await page.getByRole("heading", { level: 1, name: "Katalog" }).waitFor({ state: "visible", timeout: STEP_TIMEOUT_MS });
    const after = await until(
      page,
      () => apiStatuses.slice(before).find((r) => r.status === 200 && r.bearer),
      "an API answer after the expiry",
    );
    if (after.bearer === first.accessToken) throw new Error("the request after expiry used the expired token");
    const unauthorized = apiStatuses.filter((r) => r.status === 401);
    if (unauthorized.length) throw new Error(`401 answers during silent refresh: ${JSON.stringify(unauthorized)}`);
    if (await dialog.isVisible()) throw new Error("the sign-in dialog interrupted the user");
    if (new URL(page.url()).pathname.startsWith("/anmelden")) throw new Error("sent to the sign-in page");
    results.refreshes = refreshed();
  });

  await step("a second tab shares the session through rotating refreshes", async () => {
    // The provider spends a refresh token on first use: two tabs refreshing with the same one would end
    // the session. The app refreshes under a Web Lock and adopts the other tab's tokens.
    const second = await page.context().newPage();
    second.setDefaultTimeout(STEP_TIMEOUT_MS);
    watch(second);
    watchCsp(second, "oidc second tab", cspViolations);
    await second.goto(`${baseUrl}/vertraege`);
    await second.getByRole("heading", { level: 1, name: "Verträge" }).waitFor({ state: "visible" });
    const before = refreshed();
    const { lifetimeMs } = await storedSession(page);
    // Both tabs' timers fire together for every token: four cycles give the race four chances.
    await until(page, () => refreshed() >= before + 4, "four more refreshes with two tabs open", 4 * lifetimeMs + 60_000);
    const refused = tokenCalls.filter((c) => c.grant === "refresh_token" && c.status !== 200);
    if (refused.length) throw new Error(`a refresh was refused with two tabs: ${JSON.stringify(tokenCalls)}`);
    await second.getByRole("link", { name: "Katalog" }).click();
    await second.getByRole("heading", { level: 1, name: "Katalog" }).waitFor({ state: "visible" });
    for (const tab of [page, second]) {
      if (await tab.getByRole("alertdialog").isVisible()) throw new Error("a tab shows the sign-in dialog");
    }
    results.refreshesWithTwoTabs = refreshed() - before;
    await second.close();
  });

  await step("the sign-in service goes down mid-session: a notice, the session and the page stay", async () => {
    // The provider unreachable from the browser (down, or no CORS answer) when the next silent refresh
    // is due: not "Sitzung abgelaufen" and no sign-out, but the notice with a retry; back up, the
    // retry renews the session and the app goes on.
    const providerRequests = (url) => url.href.startsWith(new URL(issuer).origin);
    let blocked = 0;
    await page.route(providerRequests, (route) => {
      blocked += 1;
      return route.abort("connectionrefused");
    });
    const session = await storedSession(page);
    const notice = page.getByRole("alert").filter({ hasText: "Der Anmeldedienst Ihrer Kanzlei ist nicht erreichbar" });
    await notice.waitFor({ state: "visible", timeout: session.expiresAt - Date.now() + 60_000 });
    if (!blocked) throw new Error("the notice came without a request to the provider");
    if (await dialog.isVisible()) throw new Error("the session-expired dialog instead of the notice");
    if (new URL(page.url()).pathname.startsWith("/anmelden")) throw new Error("sent to the sign-in page");
    if (!(await storedSession(page))) throw new Error("the stored session was dropped");
    await page.getByRole("heading", { level: 1, name: "Katalog" }).waitFor({ state: "visible" });
    log(await axeCheck(page, "oidc-02b-anmeldedienst-ausgefallen", SCREENSHOTS, axeFindings));
    await page.unroute(providerRequests);
    const before = refreshed();
    await notice.getByRole("button", { name: "Jetzt erneut versuchen" }).click();
    await until(page, () => refreshed() > before, "a refresh after the retry");
    await notice.waitFor({ state: "hidden", timeout: STEP_TIMEOUT_MS });
    const beforeApi = apiStatuses.length;
    await page.getByRole("link", { name: "Verträge" }).click();
    await page.getByRole("heading", { level: 1, name: "Verträge" }).waitFor({ state: "visible" });
    await until(page, () => apiStatuses.slice(beforeApi).find((r) => r.status === 200 && r.bearer), "an API answer after the outage");
    if (await dialog.isVisible()) throw new Error("the sign-in dialog after the outage");
    await page.getByRole("link", { name: "Katalog" }).click();
    await page.getByRole("heading", { level: 1, name: "Katalog" }).waitFor({ state: "visible" });
    results.providerOutageNotice = true;
  });

  await step("the session ends at the provider mid-page", async () => {
    const search = page.getByRole("searchbox", { name: "Suche" });
    await search.fill("Arbeitsvertrag");
    await search.press("Enter");
    await page.waitForURL(/[?&]q=Arbeitsvertrag/, { timeout: STEP_TIMEOUT_MS });
    const here = new URL(page.url());
    results.pageBeforeExpiry = here.pathname + here.search;
    const ended = await fetch(`${new URL(issuer).origin}/_test/sessions/end`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email }),
    });
    if (!ended.ok || (await ended.json()).ended < 1) throw new Error("the provider ended no session");
    const session = await storedSession(page);
    // The next refresh (shortly before the access token expires) is refused: the dialog opens.
    await dialog.waitFor({ state: "visible", timeout: session.expiresAt - Date.now() + 60_000 });
    const refused = tokenCalls.filter((c) => c.grant === "refresh_token" && c.status === 400);
    if (!refused.length) throw new Error(`no refused refresh: ${JSON.stringify(tokenCalls)}`);
    log(await axeCheck(page, "oidc-03-sitzung-abgelaufen", SCREENSHOTS, axeFindings));
  });

  await step("sign in again and return to the page", async () => {
    await dialog.getByRole("button", { name: SSO_BUTTON }).click();
    await signInAtProvider(page);
    await page.waitForURL((url) => url.origin === baseUrl && !url.pathname.startsWith("/anmelden"), { timeout: STEP_TIMEOUT_MS });
    await page.getByRole("heading", { level: 1, name: "Katalog" }).waitFor({ state: "visible", timeout: STEP_TIMEOUT_MS });
    const back = new URL(page.url());
    results.pageAfterSignIn = back.pathname + back.search;
    if (results.pageAfterSignIn !== results.pageBeforeExpiry) {
      throw new Error(`returned to ${results.pageAfterSignIn}, not ${results.pageBeforeExpiry}`);
    }
    if (await dialog.isVisible()) throw new Error("the dialog is still open");
  });

  await step("logout ends the session at the provider", async () => {
    const session = await storedSession(page);
    await page.getByRole("button", { name: "Abmelden" }).click();
    await until(page, () => endSessions.length > 0, "a request to the end-session endpoint");
    await page.waitForURL((url) => url.origin === baseUrl && url.pathname === "/anmelden", { timeout: STEP_TIMEOUT_MS });
    await page.getByRole("button", { name: SSO_BUTTON }).waitFor({ state: "visible", timeout: STEP_TIMEOUT_MS });
    if (await storedSession(page)) throw new Error("tokens are still stored after logout");
    const refresh = await fetch(discovery.token_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", client_id: session.clientId, refresh_token: session.refreshToken }),
    });
    results.refreshAfterLogout = refresh.status;
    if (refresh.status !== 400) throw new Error(`the old refresh token still works after logout (${refresh.status})`);
    results.endSession = new URL(endSessions[0]).searchParams.has("id_token_hint");
    log(await axeCheck(page, "oidc-04-abgemeldet", SCREENSHOTS, axeFindings));
  });
  results.tokenCalls = tokenCalls.map((c) => `${c.grant}:${c.status}`);
}

const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
const browser = await launchChromium();
let failed = false;
try {
  const context = await browser.newContext({ locale: "de-DE", viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on("pageerror", (error) => log(`PAGE ERROR ${error.message}`));
  watchCsp(page, "oidc", cspViolations);
  try {
    await main(page, discovery);
  } catch (error) {
    failed = true;
    await page.screenshot({ path: join(SCREENSHOTS, "failed-oidc.png"), fullPage: true }).catch(() => undefined);
    log(`FAILED at step "${currentStep}" (${page.url()}): ${error.message.split("\n")[0]}`);
    results.failedStep = currentStep;
  } finally {
    await context.close();
  }
} finally {
  await browser.close();
}
log(`RESULT ${JSON.stringify(results)}`);
if (reportFindings(log, axeFindings, cspViolations)) failed = true;
process.exit(failed ? 1 : 0);

// Shared by the browser tests in web/e2e/: Debian's chromium through playwright-core (no browser is
// ever downloaded), an axe-core check with a screenshot per page, and CSP violations from the console.
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import AxeBuilder from "@axe-core/playwright";
import { chromium } from "playwright-core";

// Flags from the project's rules; Playwright adds --headless and its own fresh --user-data-dir
// (launch() refuses a user-supplied one; that profile is temporary and removed on close).
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function launchChromium() {
  return chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
}

/**
 * Screenshot `name` into `dir` and run axe-core (WCAG 2.1 A/AA + best practice). Serious and critical
 * findings are pushed onto `findings`; the summary line is returned for the log.
 */
export async function axeCheck(page, name, dir, findings) {
  await page.waitForLoadState("networkidle").catch(() => undefined);
  mkdirSync(dir, { recursive: true });
  // Full page, except with a modal open (its backdrop covers only the viewport).
  const modal = (await page.getByRole("dialog").or(page.getByRole("alertdialog")).count()) > 0;
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: !modal });
  const report = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]).analyze();
  const bad = report.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of bad) {
    const targets = v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ");
    findings.push(`${name}: [${v.impact}] ${v.id} - ${v.help} (${targets})`);
  }
  const ids = report.violations.map((v) => `${v.id} (${v.impact})`).join(", ");
  return `AXE ${name}: ${report.violations.length} violation(s)${ids ? ` [${ids}]` : ""}, ${bad.length} serious/critical`;
}

/** Collect every Content-Security-Policy error the page reports (the app must pass the server's CSP). */
export function watchCsp(page, label, sink) {
  page.on("console", (message) => {
    if (message.type() === "error" && /Content Security Policy/i.test(message.text())) {
      const where = message.location();
      sink.push(
        `${label} on ${new URL(page.url()).pathname} (${where.url}:${where.lineNumber}:${where.columnNumber}): ${message.text().slice(0, 200)}`,
      );
    }
  });
}

/** Print the collected axe and CSP findings; true when there are any (the run fails). */
export function reportFindings(log, axeFindings, cspViolations) {
  if (axeFindings.length) {
    log(`AXE FAILED: ${axeFindings.length} serious/critical violation(s)`);
    for (const finding of axeFindings) log(`  ${finding}`);
  }
  if (cspViolations.length) {
    log(`CSP FAILED: ${cspViolations.length} violation(s)`);
    for (const violation of cspViolations) log(`  ${violation}`);
  }
  return axeFindings.length > 0 || cspViolations.length > 0;
}

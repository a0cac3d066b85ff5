/** A safe in-app path to return to after sign-in (never another origin, never the sign-in page). */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  if (next === "/anmelden" || next.startsWith("/anmelden?") || next.startsWith("/anmelden/")) return "/";
  return next;
}

export function loginPath(next: string): string {
  const target = safeNext(next);
  return target === "/" ? "/anmelden" : `/anmelden?next=${encodeURIComponent(target)}`;
}

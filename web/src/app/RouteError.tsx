import { useTranslation } from "react-i18next";
import { isRouteErrorResponse, useRouteError } from "react-router";

import { Button } from "../ui/Button";

/** Shown instead of React Router's developer screen when a page fails to load or render.
 * The common case is a deploy while the app is open: the old page chunks are gone, and
 * reloading fetches the new ones (unsaved interview answers are kept in sessionStorage). */
export function RouteError() {
  const { t } = useTranslation();
  const error = useRouteError();
  const stale = error instanceof TypeError && /dynamically imported module|Importing a module script/i.test(error.message);
  const status = isRouteErrorResponse(error) ? error.status : null;
  return (
    <main id="main" className="route-error">
      <h1>{stale ? t("app.routeError.staleTitle") : t("app.routeError.title")}</h1>
      <p role="alert">{stale ? t("app.routeError.stale") : t("app.routeError.text", { status: status ?? "–" })}</p>
      <Button variant="primary" onPress={() => window.location.reload()}>
        {t("app.routeError.reload")}
      </Button>
    </main>
  );
}

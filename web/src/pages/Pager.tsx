import { useTranslation } from "react-i18next";

import { Button } from "../ui";

/** Previous / next over a `Page` answer, with "Seite 2 von 5" announced politely. */
export function Pager({
  page,
  pageSize,
  total,
  onPage,
}: {
  page: number;
  pageSize: number;
  total: number;
  onPage: (page: number) => void;
}) {
  const { t } = useTranslation();
  const pages = Math.max(1, Math.ceil(total / pageSize));
  if (pages <= 1) return null;
  return (
    <nav className="pager" aria-label={t("app.pager.label")}>
      <Button isDisabled={page <= 1} onPress={() => onPage(page - 1)}>
        {t("app.pager.previous")}
      </Button>
      <span aria-live="polite">{t("app.pager.position", { page, pages })}</span>
      <Button isDisabled={page >= pages} onPress={() => onPage(page + 1)}>
        {t("app.pager.next")}
      </Button>
    </nav>
  );
}

import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";

import { api } from "../../api/client";
import { asProblem, unwrap } from "../../api/problem";
import { usePageTitle } from "../../app/usePageTitle";
import { Button, ProblemMessage, Spinner, formatDate, formatNumber } from "../../ui";
import { CreateContractDialog } from "./CreateContractDialog";

/** A catalog template: description, version, changelog, structure; "Vertrag erstellen", "aus Kanzleivorlage". */
export function CatalogDetailPage() {
  const { t } = useTranslation();
  const { templateId = "" } = useParams();
  const [dialog, setDialog] = useState<"template" | "firm" | null>(null);
  const detail = useQuery({
    queryKey: ["catalog", "detail", templateId],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/catalog/templates/{template_id}", { params: { path: { template_id: templateId } } }),
      ),
  });
  usePageTitle(detail.data?.title ?? t("app.nav.catalog"));

  if (detail.isPending) return <Spinner />;
  if (detail.isError)
    return (
      <>
        <h1>{t("app.nav.catalog")}</h1>
        <ProblemMessage problem={asProblem(detail.error)} />
        <Link to="/katalog">{t("app.catalog.back")}</Link>
      </>
    );
  const item = detail.data;
  return (
    <>
      <p className="small">
        <Link to="/katalog">{t("app.catalog.back")}</Link>
      </p>
      <div className="page-header">
        <div>
          <h1>{item.title}</h1>
          <p>
            {[item.publisherName ?? t("app.catalog.ownPublisher"), item.legalArea, item.jurisdiction]
              .filter(Boolean)
              .join(" · ")}
          </p>
        </div>
        <div className="row">
          <Button variant="primary" onPress={() => setDialog("template")}>
            {t("app.catalog.create")}
          </Button>
          <Button onPress={() => setDialog("firm")}>{t("app.catalog.fromFirm")}</Button>
        </div>
      </div>
      <div className="grid catalog-detail">
        <section className="card" aria-labelledby="tpl-description">
          <h2 id="tpl-description">{t("app.catalog.description")}</h2>
          <p>{item.description}</p>
          <dl className="facts">
            <dt>{t("app.catalog.versionLabel")}</dt>
            <dd>
              {t("app.catalog.version", {
                number: item.currentVersion.versionNumber,
                date: formatDate(item.currentVersion.publishedAt),
              })}
            </dd>
            <dt>{t("app.catalog.questions")}</dt>
            <dd>{formatNumber(item.questionCount)}</dd>
            {item.category ? (
              <>
                <dt>{t("app.catalog.category")}</dt>
                <dd>{item.category}</dd>
              </>
            ) : null}
            {item.tags.length > 0 ? (
              <>
                <dt>{t("app.catalog.tags")}</dt>
                <dd>{item.tags.join(", ")}</dd>
              </>
            ) : null}
          </dl>
        </section>
        <section className="card" aria-labelledby="tpl-changelog">
          <h2 id="tpl-changelog">{t("app.catalog.changelog")}</h2>
          {item.changelog.length === 0 ? (
            <p className="muted">{t("app.catalog.noChangelog")}</p>
          ) : (
            <ol className="plain-list changelog" reversed>
              {item.changelog.map((entry) => (
                <li key={entry.versionNumber}>
                  <strong>
                    {t("app.catalog.version", {
                      number: entry.versionNumber,
                      date: formatDate(entry.publishedAt),
                    })}
                  </strong>
                  <p>{entry.changeNote || t("app.catalog.noChangeNote")}</p>
                </li>
              ))}
            </ol>
          )}
        </section>
        <section className="card" aria-labelledby="tpl-structure">
          <h2 id="tpl-structure">{t("app.catalog.structure")}</h2>
          <ol className="structure">
            {item.sections.map((section) => (
              <li key={section.id}>
                <strong>{section.title}</strong>
                <ul>
                  {section.slots.flatMap((slot) =>
                    slot.clauses.map((clause) => (
                      <li key={`${slot.id}:${clause.id}`}>
                        {clause.title}
                        {slot.clauses.length > 1 ? (
                          <span className="small muted"> ({t("app.catalog.alternative")})</span>
                        ) : slot.type === "optional" ? (
                          <span className="small muted"> ({t("app.catalog.optional")})</span>
                        ) : null}
                      </li>
                    )),
                  )}
                </ul>
              </li>
            ))}
          </ol>
        </section>
      </div>
      <CreateContractDialog
        key={`template-${dialog === "template"}`}
        source={{ templateId: item.id }}
        defaultTitle={item.title}
        isOpen={dialog === "template"}
        onOpenChange={(open) => setDialog(open ? "template" : null)}
      />
      <CreateContractDialog
        key={`firm-${dialog === "firm"}`}
        source={{ lawFirmTemplate: true }}
        defaultTitle=""
        isOpen={dialog === "firm"}
        onOpenChange={(open) => setDialog(open ? "firm" : null)}
      />
    </>
  );
}

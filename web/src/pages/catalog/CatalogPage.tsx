import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Form } from "react-aria-components";
import { Link, useSearchParams } from "react-router";

import { api, type Schemas } from "../../api/client";
import { asProblem, unwrap } from "../../api/problem";
import { usePageTitle } from "../../app/usePageTitle";
import { Button, ProblemMessage, Select, Spinner, Status, TextField, formatDate } from "../../ui";
import { Pager } from "../Pager";

type CatalogItem = Schemas["CatalogItem"];
const PAGE_SIZE = 20;
const ALL = "__all__";

function distinct(values: (string | null | undefined)[]): string[] {
  return [...new Set(values.filter((v): v is string => Boolean(v)))].sort((a, b) => a.localeCompare(b, "de"));
}

/**
 * The catalog: German full-text search (the API's `q`: stemming, prefixes, AND, `or`, `-word`), filters
 * by publisher, legal area and jurisdiction, the result list. The state lives in the URL (?q=…&legalArea=…),
 * so a search can be bookmarked and the back button restores it.
 */
export function CatalogPage() {
  const { t } = useTranslation();
  usePageTitle(t("app.nav.catalog"));
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const legalArea = params.get("legalArea");
  const jurisdiction = params.get("jurisdiction");
  const publisher = params.get("publisher");
  const page = Math.max(1, Number(params.get("page") ?? "1") || 1);
  const [draft, setDraft] = useState(q);

  function update(changes: Record<string, string | null>) {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value === null || value === "" || value === ALL) next.delete(key);
      else next.set(key, value);
    }
    if (!("page" in changes)) next.delete("page");
    setParams(next);
  }

  // The filter choices: the published templates the tenant sees (a small list; the API has no facets).
  const facets = useQuery({
    queryKey: ["catalog", "facets"],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/catalog/templates", { params: { query: { page: 1, pageSize: 100 } } })),
    staleTime: 5 * 60_000,
  });
  const results = useQuery({
    queryKey: ["catalog", { q, legalArea, jurisdiction, page }],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/catalog/templates", {
          params: {
            query: {
              q: q || null,
              legalArea: legalArea || null,
              jurisdiction: jurisdiction || null,
              page,
              pageSize: PAGE_SIZE,
            },
          },
        }),
      ),
  });
  // The API filters by legal area and jurisdiction; the publisher is chosen among the page's results.
  const items: CatalogItem[] = (results.data?.items ?? []).filter(
    (item) => !publisher || (item.publisherName ?? t("app.catalog.ownPublisher")) === publisher,
  );
  const all = facets.data?.items ?? [];
  const option = (values: string[]) => [
    { id: ALL, label: t("app.catalog.all") },
    ...values.map((v) => ({ id: v, label: v })),
  ];

  function search(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    update({ q: draft.trim() });
  }

  return (
    <>
      <div className="page-header">
        <div>
          <h1>{t("app.catalog.title")}</h1>
          <p>{t("app.catalog.intro")}</p>
        </div>
      </div>
      <section className="card" aria-label={t("app.catalog.searchLabel")}>
        <Form role="search" onSubmit={search} className="row">
          <TextField
            label={t("app.catalog.search")}
            type="search"
            name="q"
            value={draft}
            onChange={setDraft}
            description={t("app.catalog.searchHint")}
            className="grow"
          />
          <Button type="submit" variant="primary">
            {t("app.catalog.searchButton")}
          </Button>
        </Form>
        <div className="row catalog-filters">
          <Select
            label={t("app.catalog.publisher")}
            options={option(distinct(all.map((i) => i.publisherName ?? t("app.catalog.ownPublisher"))))}
            value={publisher ?? ALL}
            onChange={(v) => update({ publisher: v })}
          />
          <Select
            label={t("app.catalog.legalArea")}
            options={option(distinct(all.map((i) => i.legalArea)))}
            value={legalArea ?? ALL}
            onChange={(v) => update({ legalArea: v })}
          />
          <Select
            label={t("app.catalog.jurisdiction")}
            options={option(distinct(all.map((i) => i.jurisdiction)))}
            value={jurisdiction ?? ALL}
            onChange={(v) => update({ jurisdiction: v })}
          />
        </div>
      </section>

      <section aria-labelledby="catalog-results" className="catalog-results">
        <h2 id="catalog-results" className="ui-visually-hidden">
          {t("app.catalog.results")}
        </h2>
        {results.isPending ? (
          <Spinner />
        ) : results.isError ? (
          <ProblemMessage problem={asProblem(results.error)} />
        ) : (
          <>
            <Status>
              {t("app.catalog.count", { count: publisher ? items.length : results.data.total })}
            </Status>
            <ul className="plain-list catalog-list">
              {items.map((item) => (
                <li key={item.id} className="card">
                  <h3>
                    <Link to={`/katalog/${item.id}`}>{item.title}</Link>
                  </h3>
                  <p>{item.description}</p>
                  <p className="small muted">
                    {[
                      item.publisherName ?? t("app.catalog.ownPublisher"),
                      item.legalArea,
                      item.jurisdiction,
                      t("app.catalog.version", {
                        number: item.currentVersion.versionNumber,
                        date: formatDate(item.currentVersion.publishedAt),
                      }),
                    ]
                      .filter(Boolean)
                      .join(" · ")}
                  </p>
                </li>
              ))}
            </ul>
            <Pager
              page={page}
              pageSize={PAGE_SIZE}
              total={results.data.total}
              onPage={(p) => update({ page: String(p) })}
            />
          </>
        )}
      </section>
    </>
  );
}

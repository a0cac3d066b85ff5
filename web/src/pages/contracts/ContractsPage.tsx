import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Form } from "react-aria-components";
import { Link, useNavigate, useSearchParams } from "react-router";

import { api, type Schemas } from "../../api/client";
import { asProblem, unwrap, type ApiProblem } from "../../api/problem";
import { usePageTitle } from "../../app/usePageTitle";
import { Button, Dialog, ProblemMessage, Select, Spinner, Status, TextField, formatDateTime } from "../../ui";
import { StatusBadge } from "../labels";
import { Pager } from "../Pager";
import { UpgradeDialog } from "./UpgradeBanner";

type ContractSummary = Schemas["ContractSummary"];
type ContractStatus = "draft" | "completed" | "archived";
const PAGE_SIZE = 20;
const ACTIVE = "__active__";
const ANY = "__any__";
const STATUSES: ContractStatus[] = ["draft", "completed", "archived"];

/** A yyyy-mm-dd date from the URL (what <input type="date"> gives), else null. */
function isoDate(value: string | null): string | null {
  return value && /^\d{4}-\d{2}-\d{2}$/.test(value) ? value : null;
}

function isStatus(value: string | null): value is ContractStatus {
  return value !== null && (STATUSES as string[]).includes(value);
}

/** For a draft: a button when its template has a newer version (opens preview and upgrade). */
function UpgradeCell({ contract }: { contract: ContractSummary }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const info = useQuery({
    queryKey: ["contract", contract.id, "version-info"],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/contracts/{contract_id}/version-info", {
          params: { path: { contract_id: contract.id } },
        }),
      ),
    enabled: contract.status === "draft",
    staleTime: 5 * 60_000,
  });
  if (!info.data?.newerVersionAvailable && !info.data?.warning) return null;
  return (
    <>
      <Button variant="quiet" className="badge-button" onPress={() => setOpen(true)}>
        <span className="badge badge--has_warnings">{t("app.upgrade.badge")}</span>
        <span className="ui-visually-hidden"> – {contract.title}</span>
      </Button>
      <UpgradeDialog contractId={contract.id} isOpen={open} onOpenChange={setOpen} />
    </>
  );
}

type Pending = { action: "archive" | "delete"; contract: ContractSummary } | null;

/** Contracts: filters (status, template, search over title and client reference), paging, derive/archive/delete. */
export function ContractsPage() {
  const { t } = useTranslation();
  usePageTitle(t("app.nav.contracts"));
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const statusParam = params.get("status");
  const status = isStatus(statusParam) ? statusParam : null;
  const templateId = params.get("templateId");
  const q = params.get("q") ?? "";
  const mine = params.get("mine") === "1";
  const updatedFrom = isoDate(params.get("updatedFrom"));
  const updatedTo = isoDate(params.get("updatedTo"));
  const page = Math.max(1, Number(params.get("page") ?? "1") || 1);
  const [draft, setDraft] = useState(q);
  const [pending, setPending] = useState<Pending>(null);
  const [actionProblem, setActionProblem] = useState<ApiProblem | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  function update(changes: Record<string, string | null>) {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value === null || value === "" || value === ACTIVE || value === ANY) next.delete(key);
      else next.set(key, value);
    }
    if (!("page" in changes)) next.delete("page");
    setParams(next);
  }

  const templates = useQuery({
    queryKey: ["catalog", "facets"],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/catalog/templates", { params: { query: { page: 1, pageSize: 100 } } })),
    staleTime: 5 * 60_000,
  });
  const list = useQuery({
    queryKey: ["contracts", { status, templateId, q, mine, updatedFrom, updatedTo, page, pageSize: PAGE_SIZE }],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/contracts", {
          params: {
            query: {
              status,
              templateId: templateId || null,
              q: q || null,
              mine,
              updatedFrom,
              updatedTo,
              page,
              pageSize: PAGE_SIZE,
            },
          },
        }),
      ),
    placeholderData: (previous) => previous,
  });

  const refresh = () => queryClient.invalidateQueries({ queryKey: ["contracts"] });
  const derive = useMutation({
    mutationFn: async (contract: ContractSummary) =>
      unwrap(
        await api.POST("/api/v1/contracts/{contract_id}/derive", { params: { path: { contract_id: contract.id } } }),
      ),
    onSuccess: (change) => {
      void refresh();
      navigate(`/vertraege/${change.contract.id}`);
    },
    onError: (error) => setActionProblem(asProblem(error)),
  });
  const confirm = useMutation({
    mutationFn: async (p: NonNullable<Pending>) => {
      const path = { params: { path: { contract_id: p.contract.id } } };
      if (p.action === "archive") unwrap(await api.POST("/api/v1/contracts/{contract_id}/archive", path));
      else unwrap(await api.DELETE("/api/v1/contracts/{contract_id}", path));
      return p;
    },
    onSuccess: (p) => {
      setPending(null);
      setNotice(t(p.action === "archive" ? "app.contracts.archived" : "app.contracts.deleted", { title: p.contract.title }));
      void refresh();
    },
  });

  function search(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    update({ q: draft.trim() });
  }

  const templateOptions = [
    { id: ANY, label: t("app.contracts.anyTemplate") },
    ...(templates.data?.items ?? []).map((item) => ({ id: item.id, label: item.title })),
  ];
  const statusOptions = [
    { id: ACTIVE, label: t("app.contracts.active") },
    ...STATUSES.map((s) => ({ id: s, label: t(`app.labels.contract.${s}`) })),
  ];

  return (
    <>
      <div className="page-header">
        <div>
          <h1>{t("app.contracts.title")}</h1>
          <p>{t("app.contracts.intro")}</p>
        </div>
        <Link to="/katalog" className="ui-button ui-button--primary">
          {t("app.dashboard.newContract")}
        </Link>
      </div>
      <section className="card" aria-label={t("app.contracts.filters")}>
        <Form role="search" onSubmit={search} className="row">
          <TextField
            label={t("app.contracts.search")}
            type="search"
            name="q"
            value={draft}
            onChange={setDraft}
            description={t("app.contracts.searchHint")}
            className="grow"
          />
          <Button type="submit" variant="primary">
            {t("app.catalog.searchButton")}
          </Button>
        </Form>
        <div className="row catalog-filters">
          <Select
            label={t("app.contracts.status")}
            options={statusOptions}
            value={status ?? ACTIVE}
            onChange={(v) => update({ status: v })}
          />
          <Select
            label={t("app.contracts.template")}
            options={templateOptions}
            value={templateId ?? ANY}
            onChange={(v) => update({ templateId: v })}
          />
          <Select
            label={t("app.contracts.owner")}
            options={[
              { id: "0", label: t("app.contracts.ownerAll") },
              { id: "1", label: t("app.contracts.ownerMine") },
            ]}
            value={mine ? "1" : "0"}
            onChange={(v) => update({ mine: v === "1" ? "1" : null })}
          />
          <TextField
            label={t("app.contracts.updatedFrom")}
            type="date"
            name="updatedFrom"
            value={updatedFrom ?? ""}
            onChange={(v) => update({ updatedFrom: isoDate(v) })}
            className="date-field"
          />
          <TextField
            label={t("app.contracts.updatedTo")}
            type="date"
            name="updatedTo"
            value={updatedTo ?? ""}
            onChange={(v) => update({ updatedTo: isoDate(v) })}
            className="date-field"
          />
        </div>
      </section>

      {notice ? <Status className="ui-alert ui-alert--success">{notice}</Status> : null}
      <ProblemMessage problem={actionProblem} />

      <section aria-labelledby="contracts-results" className="card">
        <h2 id="contracts-results" className="ui-visually-hidden">
          {t("app.contracts.results")}
        </h2>
        {list.isPending ? (
          <Spinner />
        ) : list.isError ? (
          <ProblemMessage problem={asProblem(list.error)} />
        ) : (
          <>
            <Status>{t("app.contracts.count", { count: list.data.total })}</Status>
            {list.data.items.length > 0 ? (
              <div className="table-wrap">
                <table className="table">
                  <thead>
                    <tr>
                      <th scope="col">{t("app.contracts.colTitle")}</th>
                      <th scope="col">{t("app.contracts.colClientReference")}</th>
                      <th scope="col">{t("app.contracts.colStatus")}</th>
                      <th scope="col">{t("app.contracts.colUpdated")}</th>
                      <th scope="col">{t("app.contracts.colActions")}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.data.items.map((c) => (
                      <tr key={c.id}>
                        <td>
                          <Link to={`/vertraege/${c.id}`}>{c.title}</Link>
                          {c.tags.length > 0 ? <div className="small muted">{c.tags.join(", ")}</div> : null}
                        </td>
                        <td>{c.clientReference ?? "–"}</td>
                        <td>
                          <StatusBadge kind="contract" value={c.status} />{" "}
                          {c.status === "draft" ? <StatusBadge kind="validation" value={c.validationState} /> : null}{" "}
                          <UpgradeCell contract={c} />
                        </td>
                        <td>{formatDateTime(c.updatedAt)}</td>
                        <td>
                          <div className="table-actions">
                            <Button
                              onPress={() => {
                                setActionProblem(null);
                                derive.mutate(c);
                              }}
                              isDisabled={derive.isPending}
                              aria-label={`${t("app.contracts.derive")}: ${c.title}`}
                            >
                              {t("app.contracts.derive")}
                            </Button>
                            {c.status !== "archived" ? (
                              <Button
                                onPress={() => setPending({ action: "archive", contract: c })}
                                aria-label={`${t("app.contracts.archive")}: ${c.title}`}
                              >
                                {t("app.contracts.archive")}
                              </Button>
                            ) : null}
                            {c.status === "draft" ? (
                              <Button
                                variant="danger"
                                onPress={() => setPending({ action: "delete", contract: c })}
                                aria-label={`${t("app.contracts.delete")}: ${c.title}`}
                              >
                                {t("app.contracts.delete")}
                              </Button>
                            ) : null}
                          </div>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <p className="muted">{t("app.contracts.empty")}</p>
            )}
            <Pager page={page} pageSize={PAGE_SIZE} total={list.data.total} onPage={(p) => update({ page: String(p) })} />
          </>
        )}
      </section>

      <Dialog
        title={pending?.action === "delete" ? t("app.contracts.deleteTitle") : t("app.contracts.archiveTitle")}
        isOpen={pending !== null}
        onOpenChange={(open) => {
          if (!open) {
            setPending(null);
            confirm.reset();
          }
        }}
        role="alertdialog"
      >
        <p>
          {pending?.action === "delete"
            ? t("app.contracts.deleteText", { title: pending.contract.title })
            : t("app.contracts.archiveText", { title: pending?.contract.title ?? "" })}
        </p>
        <ProblemMessage problem={confirm.isError ? asProblem(confirm.error) : null} />
        <div className="ui-dialog-actions">
          <Button variant="quiet" onPress={() => setPending(null)}>
            {t("app.actions.cancel")}
          </Button>
          <Button
            variant={pending?.action === "delete" ? "danger" : "primary"}
            isDisabled={confirm.isPending}
            onPress={() => pending && confirm.mutate(pending)}
          >
            {pending?.action === "delete" ? t("app.contracts.delete") : t("app.contracts.archive")}
          </Button>
        </div>
      </Dialog>
    </>
  );
}

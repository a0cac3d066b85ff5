import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { useAuth } from "../../api/auth";
import { api, type Schemas } from "../../api/client";
import { asProblem, unwrap } from "../../api/problem";
import { usePageTitle } from "../../app/usePageTitle";
import { ProblemMessage, Spinner, formatBytes, formatDateTime } from "../../ui";
import { StatusBadge } from "../labels";

type ContractSummary = Schemas["ContractSummary"];
type ExportJob = Schemas["ExportJobOut"];

function useContracts(status: "draft" | "completed") {
  return useQuery({
    queryKey: ["contracts", { status, page: 1, pageSize: 5 }],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/contracts", { params: { query: { status, page: 1, pageSize: 5 } } })),
  });
}

function ContractList({ title, status }: { title: string; status: "draft" | "completed" }) {
  const { t } = useTranslation();
  const query = useContracts(status);
  const headingId = `dash-${status}`;
  return (
    <section className="card" aria-labelledby={headingId}>
      <h2 id={headingId}>{title}</h2>
      {query.isPending ? (
        <Spinner />
      ) : query.isError ? (
        <ProblemMessage problem={asProblem(query.error)} />
      ) : query.data.items.length === 0 ? (
        <p className="muted">{t(`app.dashboard.empty.${status}`)}</p>
      ) : (
        <ul className="plain-list">
          {query.data.items.map((c: ContractSummary) => (
            <li key={c.id}>
              <Link to={`/vertraege/${c.id}`}>{c.title}</Link>
              <div className="small muted">
                {c.clientReference ? `${c.clientReference} · ` : ""}
                {t("app.dashboard.updated", {
                  when: formatDateTime(status === "completed" ? (c.completedAt ?? c.updatedAt) : c.updatedAt),
                })}{" "}
                {status === "draft" ? <StatusBadge kind="validation" value={c.validationState} /> : null}
              </div>
            </li>
          ))}
        </ul>
      )}
      <p className="small">
        <Link to={`/vertraege?status=${status}`}>{t("app.dashboard.all")}</Link>
      </p>
    </section>
  );
}

function RecentExports() {
  const { t } = useTranslation();
  const jobs = useQuery({
    queryKey: ["export-jobs", { page: 1, pageSize: 5 }],
    queryFn: async () => unwrap(await api.GET("/api/v1/export-jobs", { params: { query: { page: 1, pageSize: 5 } } })),
    refetchInterval: (query) =>
      query.state.data?.items.some((j) => j.status === "queued" || j.status === "running") ? 3000 : false,
  });
  // Titles of the exported contracts: one list request rather than one per job.
  const titles = useQuery({
    queryKey: ["contracts", { page: 1, pageSize: 100 }],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/contracts", { params: { query: { page: 1, pageSize: 100 } } })),
    enabled: (jobs.data?.items.length ?? 0) > 0,
  });
  const titleOf = (id: string) => titles.data?.items.find((c) => c.id === id)?.title ?? t("app.dashboard.contract");
  return (
    <section className="card" aria-labelledby="dash-exports">
      <h2 id="dash-exports">{t("app.dashboard.exports")}</h2>
      {jobs.isPending ? (
        <Spinner />
      ) : jobs.isError ? (
        <ProblemMessage problem={asProblem(jobs.error)} />
      ) : jobs.data.items.length === 0 ? (
        <p className="muted">{t("app.dashboard.empty.exports")}</p>
      ) : (
        <ul className="plain-list">
          {jobs.data.items.map((job: ExportJob) => (
            <li key={job.id}>
              <Link to={`/vertraege/${job.contractId}`}>{titleOf(job.contractId)}</Link>{" "}
              <span className="small">{job.format.toUpperCase()}</span>
              <div className="small muted">
                <StatusBadge kind="export" value={job.status} /> {formatDateTime(job.completedAt ?? job.queuedAt)}
                {job.size ? ` · ${formatBytes(job.size)}` : ""}
                {job.status === "done" && job.downloadUrl ? (
                  <>
                    {" · "}
                    <a href={job.downloadUrl}>{t("app.dashboard.download")}</a>
                  </>
                ) : null}
                {job.status === "failed" && job.errorMessage ? ` · ${job.errorMessage}` : ""}
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** The start page: recent drafts, recently completed contracts, recent exports with their state. */
export function DashboardPage() {
  const { t } = useTranslation();
  const { user } = useAuth();
  usePageTitle(t("app.nav.dashboard"));
  return (
    <>
      <div className="page-header">
        <div>
          <h1>{t("app.dashboard.title")}</h1>
          {user ? <p>{t("app.dashboard.welcome", { name: user.displayName || user.email })}</p> : null}
        </div>
        <Link to="/katalog" className="ui-button ui-button--primary">
          {t("app.dashboard.newContract")}
        </Link>
      </div>
      <div className="grid">
        <ContractList title={t("app.dashboard.drafts")} status="draft" />
        <ContractList title={t("app.dashboard.completed")} status="completed" />
        <RecentExports />
      </div>
    </>
  );
}

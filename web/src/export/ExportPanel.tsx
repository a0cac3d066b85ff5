// Export of one contract (issue 13, point 6): format (DOCX, PDF; ODT as "Beta" only when the
// tenant's featureFlags.odtExport is on), style template, "Exportieren" → POST /export-jobs,
// progress by polling GET /export-jobs/{id} until it is done or failed, then the download link.
//
// The download is the job's `downloadUrl` (a signed link valid 15 minutes, or a presigned S3 URL):
// a plain link works without the bearer token, needs no blob: URLs (the CSP stays strict), and the
// browser streams the file with the server's Content-Disposition name. The job is re-read shortly
// before the link expires, so the link shown is always valid.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useId, useState } from "react";
import { useTranslation } from "react-i18next";
import {
  Button,
  Label,
  ListBox,
  ListBoxItem,
  Popover,
  ProgressBar,
  Radio,
  RadioGroup,
  Select,
  SelectValue,
} from "react-aria-components";

import { api } from "../api/client";
import type { components } from "../api/schema";

import "./export.css";

type ExportFormat = components["schemas"]["ExportRequest"]["format"];
type ExportJob = components["schemas"]["ExportJobOut"];
type StyleTemplate = components["schemas"]["StyleTemplateOut"];

/** An RFC 9457 problem as the API sends it (German `detail`, stable `code`). */
interface Problem {
  status?: number;
  code?: string;
  title?: string;
  detail?: string;
  jobId?: string | null;
}

class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title ?? problem.code ?? "error");
  }
}

function asProblem(error: unknown): Problem {
  if (error && typeof error === "object") return error as Problem;
  return {};
}

const POLL_MS = 1000;
const LINK_REFRESH_MARGIN_MS = 60_000;

export const exportKeys = {
  features: ["tenant", "features"] as const,
  styles: ["export", "style-templates"] as const,
  job: (id: string) => ["export", "job", id] as const,
};

/** Whether the tenant offers ODT (Beta): GET /tenant/features, readable by every user. */
function useOdtEnabled(): boolean {
  const features = useQuery({
    queryKey: exportKeys.features,
    queryFn: async () => {
      const { data, error } = await api.GET("/api/v1/tenant/features");
      if (error) throw new ProblemError(asProblem(error));
      return data;
    },
    staleTime: 5 * 60_000,
  });
  return features.data?.odtExport === true;
}

function useStyleTemplates() {
  return useQuery({
    queryKey: exportKeys.styles,
    queryFn: async (): Promise<StyleTemplate[]> => {
      const { data, error } = await api.GET("/api/v1/export/style-templates");
      if (error) throw new ProblemError(asProblem(error));
      return data.items;
    },
    staleTime: 5 * 60_000,
  });
}

function isRunning(job: ExportJob | undefined): boolean {
  return job?.status === "queued" || job?.status === "running";
}

/** Poll while the job runs; when done, re-read it shortly before its download link expires. */
export function refetchDelay(job: ExportJob | undefined, now = Date.now()): number | false {
  if (!job || isRunning(job)) return POLL_MS;
  if (job.status === "done" && job.downloadUrlExpiresAt) {
    const left = Date.parse(job.downloadUrlExpiresAt) - now - LINK_REFRESH_MARGIN_MS;
    return Math.max(left, POLL_MS);
  }
  return false;
}

function formatBytes(bytes: number, language: string): string {
  const locale = language === "en" ? "en-GB" : "de-DE";
  if (bytes < 1024) return `${new Intl.NumberFormat(locale).format(bytes)} B`;
  const kb = bytes / 1024;
  if (kb < 1024) return `${new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(kb)} KB`;
  return `${new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(kb / 1024)} MB`;
}

export function ExportPanel({ contractId }: { contractId: string }) {
  const { t, i18n } = useTranslation();
  const headingId = useId();
  const odtEnabled = useOdtEnabled();
  const styles = useStyleTemplates();
  const [format, setFormat] = useState<ExportFormat>("docx");
  const [chosenStyle, setChosenStyle] = useState<string | null>(null);
  const [jobId, setJobId] = useState<string | null>(null);

  // Coming back to the contract: pick up its newest export while it runs or once it is done, so the
  // progress (or the download) is not lost by navigating away.
  const latest = useQuery({
    queryKey: ["export", "latest", contractId],
    queryFn: async (): Promise<ExportJob | null> => {
      const { data, error } = await api.GET("/api/v1/export-jobs", {
        params: { query: { contractId, pageSize: 1 } },
      });
      if (error) throw new ProblemError(asProblem(error));
      return data.items[0] ?? null;
    },
    staleTime: Infinity,
    retry: false,
  });
  const resumable = latest.data && latest.data.status !== "failed" && latest.data.status !== "archived";
  if (jobId === null && resumable && latest.data) setJobId(latest.data.id);

  const defaultStyle = styles.data?.find((s) => s.isDefault) ?? styles.data?.[0];
  const styleId = chosenStyle ?? defaultStyle?.id ?? null;

  const start = useMutation({
    mutationFn: async (): Promise<ExportJob> => {
      const { data, error } = await api.POST("/api/v1/export-jobs", {
        body: { contractId, format, styleTemplateId: styleId },
      });
      if (error) throw new ProblemError(asProblem(error));
      return data;
    },
    onSuccess: (job) => setJobId(job.id),
    onError: (error) => {
      // The same export is already running: follow that job instead of failing.
      const problem = error instanceof ProblemError ? error.problem : {};
      if (problem.code === "export.already_queued" && problem.jobId) setJobId(problem.jobId);
    },
  });

  const job = useQuery({
    queryKey: exportKeys.job(jobId ?? ""),
    enabled: jobId !== null,
    queryFn: async (): Promise<ExportJob> => {
      const { data, error } = await api.GET("/api/v1/export-jobs/{job_id}", {
        params: { path: { job_id: jobId ?? "" } },
      });
      if (error) throw new ProblemError(asProblem(error));
      return data;
    },
    refetchInterval: (query) => refetchDelay(query.state.data),
  });

  const current = job.data?.id === jobId ? job.data : undefined;
  const busy = start.isPending || (jobId !== null && (current === undefined || isRunning(current)));
  // An already queued export with a known job is followed (onError) rather than reported.
  const startProblem =
    start.error instanceof ProblemError &&
    !(start.error.problem.code === "export.already_queued" && start.error.problem.jobId)
      ? start.error.problem
      : null;
  const formats: ExportFormat[] = odtEnabled ? ["docx", "pdf", "odt"] : ["docx", "pdf"];

  return (
    <section className="export-panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{t("export.heading")}</h2>
      <RadioGroup
        className="export-formats"
        value={format}
        onChange={(value) => setFormat(value as ExportFormat)}
        isDisabled={busy}
      >
        <Label>{t("export.format")}</Label>
        {formats.map((f) => (
          <Radio key={f} value={f} className="export-radio">
            {t(`export.formats.${f}`)}
            {f === "odt" && <span className="export-beta"> {t("export.beta")}</span>}
          </Radio>
        ))}
      </RadioGroup>

      {styles.isError ? (
        <p role="alert" className="export-error">
          {styles.error.message}
        </p>
      ) : (
        <Select
          className="export-style"
          selectedKey={styleId}
          onSelectionChange={(key) => setChosenStyle(key === null ? null : String(key))}
          isDisabled={busy || !styles.data}
          placeholder={t("export.styleLoading")}
        >
          <Label>{t("export.style")}</Label>
          <Button className="export-select-button">
            <SelectValue />
            <span aria-hidden="true"> ▾</span>
          </Button>
          <Popover className="export-popover">
            <ListBox items={styles.data ?? []}>
              {(style) => (
                <ListBoxItem id={style.id} className="export-option" textValue={style.name}>
                  {style.isDefault ? t("export.styleDefault", { name: style.name }) : style.name}
                </ListBoxItem>
              )}
            </ListBox>
          </Popover>
        </Select>
      )}

      <Button className="export-start" onPress={() => start.mutate()} isDisabled={busy || !styles.data}>
        {t("export.start")}
      </Button>

      <div aria-live="polite" className="export-status">
        {busy && (
          <ProgressBar isIndeterminate className="export-progress" aria-label={t("export.progressLabel")}>
            <span>
              {current?.status === "running" ? t("export.status.running") : t("export.status.queued")}
            </span>
            <div className="export-bar" aria-hidden="true">
              <div className="export-bar-fill" />
            </div>
          </ProgressBar>
        )}
        {current?.status === "done" && current.downloadUrl && (
          <p className="export-done">
            {t("export.status.done")}{" "}
            <a href={current.downloadUrl} download className="export-download">
              {t("export.download", {
                format: t(`export.formats.${current.format}`),
                size: formatBytes(current.size ?? 0, i18n.language),
              })}
            </a>
          </p>
        )}
        {current?.status === "failed" && (
          <p role="alert" className="export-error">
            {t("export.status.failed")} {current.errorMessage ?? ""}
          </p>
        )}
      </div>
      {startProblem && (
        <p role="alert" className="export-error">
          {startProblem.detail ?? startProblem.title ?? t("export.unknownError")}
        </p>
      )}
      {job.isError && (
        <p role="alert" className="export-error">
          {job.error.message}
        </p>
      )}
    </section>
  );
}

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { api, type Schemas } from "../../api/client";
import { asProblem, unwrap } from "../../api/problem";
import { Alert, Button, Dialog, ProblemMessage, Spinner } from "../../ui";

type MigrationReport = Schemas["MigrationReport"];
type VersionInfo = Schemas["VersionInfo"];

/**
 * The word diff of a changed clause: insertions underlined, deletions struck through (and named for
 * screen readers). The API's runs are word sequences split at whitespace, so they are joined by spaces.
 */
export function WordDiff({ runs }: { runs: Schemas["DiffRun"][] }) {
  const { t } = useTranslation();
  return (
    <p className="diff">
      {runs.map((run, i) => {
        const gap = i > 0 ? " " : "";
        if (run.op === "insert")
          return (
            <span key={i}>
              {gap}
              <ins>
                <span className="ui-visually-hidden">[{t("app.upgrade.inserted")}: </span>
                {run.text}
                <span className="ui-visually-hidden">]</span>
              </ins>
            </span>
          );
        if (run.op === "delete")
          return (
            <span key={i}>
              {gap}
              <del>
                <span className="ui-visually-hidden">[{t("app.upgrade.deleted")}: </span>
                {run.text}
                <span className="ui-visually-hidden">]</span>
              </del>
            </span>
          );
        return (
          <span key={i}>
            {gap}
            {run.text}
          </span>
        );
      })}
    </p>
  );
}

function ReportList({ title, items }: { title: string; items: string[] }) {
  if (items.length === 0) return null;
  return (
    <>
      <h3>{title}</h3>
      <ul>
        {items.map((item) => (
          <li key={item}>{item}</li>
        ))}
      </ul>
    </>
  );
}

/** The migration report: what changes in the document and what happens to the answers. */
export function MigrationReportView({ report }: { report: MigrationReport }) {
  const { t } = useTranslation();
  const nothing =
    report.updatedClauses.length +
      report.addedClauses.length +
      report.removedClauses.length +
      report.droppedAnswers.length +
      report.resetSlots.length ===
    0;
  return (
    <div className="stack migration-report">
      <p>
        {t("app.upgrade.versions", { from: report.fromTemplateVersion, to: report.toTemplateVersion })}
      </p>
      {nothing ? <p className="muted">{t("app.upgrade.noChanges")}</p> : null}
      {report.updatedClauses.map((clause) => (
        <section key={clause.clauseId} aria-label={clause.title}>
          <h3>
            {clause.title}{" "}
            <span className="small muted">
              {t("app.upgrade.clauseVersions", { from: clause.fromVersion, to: clause.toVersion })}
            </span>
          </h3>
          <WordDiff runs={clause.diff} />
        </section>
      ))}
      <ReportList title={t("app.upgrade.added")} items={report.addedClauses.map((c) => c.title)} />
      <ReportList title={t("app.upgrade.removed")} items={report.removedClauses.map((c) => c.title)} />
      <ReportList title={t("app.upgrade.droppedAnswers")} items={report.droppedAnswers} />
      <ReportList title={t("app.upgrade.resetSlots")} items={report.resetSlots} />
      {report.newViolations.length > 0 ? (
        <Alert tone="warning" title={t("app.upgrade.newViolations")}>
          <ul>
            {report.newViolations.map((v) => (
              <li key={v.fingerprint}>{v.message}</li>
            ))}
          </ul>
        </Alert>
      ) : null}
    </div>
  );
}

/**
 * Called right before the upgrade is sent (e.g. to save pending input first); resolves to the
 * contract's `ETag` to send as `If-Match` (null: none), so a contract changed elsewhere meanwhile is
 * refused with 412 instead of being upgraded unseen.
 */
export type IfMatch = () => Promise<string | null>;

/**
 * Called instead of showing the error when the upgrade is refused with 412 (the contract was changed
 * elsewhere since the `If-Match` version): the dialog closes and the page takes it from there (the
 * interview stops autosaving, keeps the unsaved input and shows its notice, as for a refused save).
 */
export type OnModifiedElsewhere = () => void;

/** Preview (dry run) and the upgrade itself. */
export function UpgradeDialog({
  contractId,
  isOpen,
  onOpenChange,
  onUpgraded,
  ifMatch,
  onModifiedElsewhere,
}: {
  contractId: string;
  isOpen: boolean;
  onOpenChange: (open: boolean) => void;
  onUpgraded?: (change: Schemas["ContractChange"]) => void;
  ifMatch?: IfMatch;
  onModifiedElsewhere?: OnModifiedElsewhere;
}) {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const preview = useQuery({
    queryKey: ["contract", contractId, "upgrade-preview"],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/contracts/{contract_id}/upgrade-preview", {
          params: { path: { contract_id: contractId } },
        }),
      ),
    enabled: isOpen,
    staleTime: 0,
  });
  const upgrade = useMutation({
    mutationFn: async () => {
      const etag = ifMatch ? await ifMatch() : null;
      return unwrap(
        await api.POST("/api/v1/contracts/{contract_id}/upgrade", {
          params: { path: { contract_id: contractId }, ...(etag ? { header: { "If-Match": etag } } : {}) },
          body: {},
        }),
      );
    },
    onSuccess: (change) => {
      void queryClient.invalidateQueries({
        predicate: (q) => q.queryKey[0] === "contracts" || (q.queryKey as unknown[]).includes(contractId),
      });
      onUpgraded?.(change);
      onOpenChange(false);
    },
    onError: (error) => {
      if (!onModifiedElsewhere || asProblem(error).status !== 412) return;
      upgrade.reset(); // not shown here: the page explains it (and a reopened dialog starts clean)
      onOpenChange(false);
      onModifiedElsewhere();
    },
  });
  return (
    <Dialog title={t("app.upgrade.title")} isOpen={isOpen} onOpenChange={onOpenChange} className="ui-modal--wide">
      {preview.isPending ? (
        <Spinner />
      ) : preview.isError ? (
        <ProblemMessage problem={asProblem(preview.error)} />
      ) : (
        <MigrationReportView report={preview.data} />
      )}
      <ProblemMessage problem={upgrade.isError ? asProblem(upgrade.error) : null} />
      <div className="ui-dialog-actions">
        <Button variant="quiet" onPress={() => onOpenChange(false)}>
          {t("app.actions.cancel")}
        </Button>
        <Button variant="primary" isDisabled={!preview.isSuccess || upgrade.isPending} onPress={() => upgrade.mutate()}>
          {upgrade.isPending ? t("app.upgrade.running") : t("app.upgrade.submit")}
        </Button>
      </div>
    </Dialog>
  );
}

/**
 * "Neuere Version verfügbar": shown for a draft whose template has a newer published version (or pins a
 * deprecated clause); opens the preview with the word diff and the migration report, then upgrades.
 * Pass `versionInfo` when the contract view is at hand (it carries it), else it is fetched.
 */
export function UpgradeBanner({
  contractId,
  versionInfo,
  onUpgraded,
  ifMatch,
  onModifiedElsewhere,
}: {
  contractId: string;
  versionInfo?: VersionInfo;
  onUpgraded?: (change: Schemas["ContractChange"]) => void;
  ifMatch?: IfMatch;
  onModifiedElsewhere?: OnModifiedElsewhere;
}) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const fetched = useQuery({
    queryKey: ["contract", contractId, "version-info"],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/contracts/{contract_id}/version-info", {
          params: { path: { contract_id: contractId } },
        }),
      ),
    enabled: versionInfo === undefined,
    staleTime: 5 * 60_000,
  });
  const info = versionInfo ?? fetched.data;
  if (!info || (!info.newerVersionAvailable && !info.warning)) return null;
  return (
    <Alert tone="warning" title={t("app.upgrade.banner")} className="upgrade-banner">
      <p>{info.warning ?? t("app.upgrade.bannerText", { title: info.templateTitle })}</p>
      <Button onPress={() => setOpen(true)}>{t("app.upgrade.preview")}</Button>
      <UpgradeDialog
        contractId={contractId}
        isOpen={open}
        onOpenChange={setOpen}
        {...(onUpgraded ? { onUpgraded } : {})}
        {...(ifMatch ? { ifMatch } : {})}
        {...(onModifiedElsewhere ? { onModifiedElsewhere } : {})}
      />
    </Alert>
  );
}

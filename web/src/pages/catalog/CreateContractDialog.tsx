import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Form, ListBox, ListBoxItem, Label } from "react-aria-components";
import { useNavigate } from "react-router";

import { api, type Schemas } from "../../api/client";
import { asProblem, unwrap } from "../../api/problem";
import { Button, Dialog, ProblemMessage, Spinner, TextField, formatDate } from "../../ui";

type Source = { templateId: string } | { lawFirmTemplate: true };

/**
 * "Vertrag erstellen": title and client reference, then POST /api/v1/contracts and on to the interview.
 * With `lawFirmTemplate`, the user first picks one of the firm's published templates ("aus Kanzleivorlage").
 */
export function CreateContractDialog({
  source,
  defaultTitle,
  isOpen,
  onOpenChange,
}: {
  source: Source;
  defaultTitle: string;
  isOpen: boolean;
  onOpenChange: (open: boolean) => void;
}) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [title, setTitle] = useState(defaultTitle);
  const [clientReference, setClientReference] = useState("");
  const [lawFirmTemplateId, setLawFirmTemplateId] = useState<string | null>(null);
  const fromFirm = "lawFirmTemplate" in source;

  const firmTemplates = useQuery({
    queryKey: ["lawfirm-templates"],
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/lawfirm-templates", { params: { query: { page: 1, pageSize: 100 } } })),
    enabled: isOpen && fromFirm,
  });
  const published = (firmTemplates.data?.items ?? []).filter(
    (item: Schemas["LawFirmTemplateOut"]) => item.status === "published",
  );

  const create = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/contracts", {
          body: {
            title: title.trim(),
            clientReference: clientReference.trim() || null,
            tags: [],
            visibility: "private",
            ...("templateId" in source ? { templateId: source.templateId } : { lawFirmTemplateId }),
          },
        }),
      ),
    onSuccess: (contract) => {
      void queryClient.invalidateQueries({ queryKey: ["contracts"] });
      onOpenChange(false);
      navigate(`/vertraege/${contract.id}`);
    },
  });

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (fromFirm && !lawFirmTemplateId) return;
    create.mutate();
  }

  const problem = create.isError ? asProblem(create.error) : null;
  const fieldError = (field: string) => problem?.errors.find((e) => e.field === field)?.message;

  return (
    <Dialog
      title={fromFirm ? t("app.create.fromFirmTitle") : t("app.create.title")}
      isOpen={isOpen}
      onOpenChange={onOpenChange}
    >
      <Form onSubmit={submit} className="stack">
        {fromFirm ? (
          firmTemplates.isPending ? (
            <Spinner />
          ) : firmTemplates.isError ? (
            <ProblemMessage problem={asProblem(firmTemplates.error)} />
          ) : published.length === 0 ? (
            <p className="muted">{t("app.create.noFirmTemplates")}</p>
          ) : (
            <div className="ui-field">
              <Label className="ui-label" id="firm-templates-label">
                {t("app.create.firmTemplate")}
              </Label>
              <ListBox
                aria-labelledby="firm-templates-label"
                className="ui-listbox firm-templates"
                selectionMode="single"
                selectedKeys={lawFirmTemplateId ? [lawFirmTemplateId] : []}
                onSelectionChange={(keys) => {
                  const [key] = keys === "all" ? [] : [...keys];
                  setLawFirmTemplateId(key === undefined ? null : String(key));
                  const chosen = published.find((p) => p.id === key);
                  if (chosen && (!title || title === defaultTitle)) setTitle(chosen.title);
                }}
                items={published}
              >
                {(item) => (
                  <ListBoxItem id={item.id} textValue={item.title} className="ui-listbox-item">
                    <strong>{item.title}</strong>
                    <span className="small muted"> · {formatDate(item.updatedAt)}</span>
                    {item.description ? <div className="small">{item.description}</div> : null}
                  </ListBoxItem>
                )}
              </ListBox>
            </div>
          )
        ) : null}
        <TextField
          label={t("app.create.contractTitle")}
          name="title"
          value={title}
          onChange={setTitle}
          isRequired
          errorMessage={fieldError("title")}
        />
        <TextField
          label={t("app.create.clientReference")}
          name="clientReference"
          value={clientReference}
          onChange={setClientReference}
          description={t("app.create.clientReferenceHint")}
          errorMessage={fieldError("clientReference")}
        />
        <ProblemMessage problem={problem && problem.errors.length === 0 ? problem : null} />
        <div className="ui-dialog-actions">
          <Button variant="quiet" onPress={() => onOpenChange(false)}>
            {t("app.actions.cancel")}
          </Button>
          <Button
            type="submit"
            variant="primary"
            isDisabled={create.isPending || !title.trim() || (fromFirm && !lawFirmTemplateId)}
          >
            {create.isPending ? t("app.create.creating") : t("app.create.submit")}
          </Button>
        </div>
      </Form>
    </Dialog>
  );
}

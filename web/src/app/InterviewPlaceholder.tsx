import { useTranslation } from "react-i18next";
import { useParams } from "react-router";

/** Stands in for web/src/interview/InterviewPage until the interview area provides it. */
export default function InterviewPlaceholder() {
  const { t } = useTranslation();
  const { contractId } = useParams();
  return (
    <>
      <h1>{t("app.nav.contracts")}</h1>
      <p className="muted">{contractId}</p>
    </>
  );
}

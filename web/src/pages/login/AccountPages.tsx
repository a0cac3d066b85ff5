// Pages reached from the mails the server sends (absolute links under PUBLIC_BASE_URL):
// /einladung?token=… (accept an invitation), /passwort-zuruecksetzen?token=… (set a new password),
// and /passwort-vergessen (ask for the reset mail).
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Form } from "react-aria-components";
import { Link, useNavigate, useSearchParams } from "react-router";

import { useAuth } from "../../api/auth";
import { publicApi } from "../../api/client";
import { networkProblem, problemOf, type ApiProblem } from "../../api/problem";
import { usePageTitle } from "../../app/usePageTitle";
import { Alert, ProblemMessage } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { TextField } from "../../ui/TextField";
import { PublicPage } from "./PublicPage";

const MIN_PASSWORD = 12; // the API's password policy (user.password_policy)

function fieldError(problem: ApiProblem | null, field: string): string | undefined {
  return problem?.errors.find((e) => e.field === field || e.field.endsWith(`.${field}`))?.message;
}

function NewPassword({
  password,
  repeat,
  onPassword,
  onRepeat,
  problem,
}: {
  password: string;
  repeat: string;
  onPassword: (v: string) => void;
  onRepeat: (v: string) => void;
  problem: ApiProblem | null;
}) {
  const { t } = useTranslation();
  const mismatch = repeat.length > 0 && repeat !== password;
  return (
    <>
      <TextField
        label={t("app.account.newPassword")}
        type="password"
        name="password"
        autoComplete="new-password"
        value={password}
        onChange={onPassword}
        isRequired
        minLength={MIN_PASSWORD}
        description={t("app.account.passwordPolicy", { count: MIN_PASSWORD })}
        errorMessage={fieldError(problem, "password")}
      />
      <TextField
        label={t("app.account.repeatPassword")}
        type="password"
        name="repeat"
        autoComplete="new-password"
        value={repeat}
        onChange={onRepeat}
        isRequired
        errorMessage={mismatch ? t("app.account.mismatch") : undefined}
      />
    </>
  );
}

export function AcceptInvitePage() {
  const { t } = useTranslation();
  usePageTitle(t("app.account.inviteTitle"));
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const navigate = useNavigate();
  const { signInWithTokens } = useAuth();
  const [displayName, setDisplayName] = useState("");
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || password !== repeat) return;
    setBusy(true);
    setProblem(null);
    try {
      const result = await publicApi.POST("/api/v1/auth/accept-invite", {
        body: { token, password, displayName: displayName.trim() },
      });
      const refused = problemOf(result);
      if (refused || !result.data) {
        setProblem(refused ?? networkProblem(null));
        return;
      }
      const meProblem = await signInWithTokens(result.data);
      if (meProblem) setProblem(meProblem);
      else navigate("/", { replace: true });
    } catch (error) {
      setProblem(networkProblem(error));
    } finally {
      setBusy(false);
    }
  }

  return (
    <PublicPage title={t("app.account.inviteTitle")}>
      {!token ? (
        <Alert tone="error">{t("app.account.noToken")}</Alert>
      ) : (
        <Form onSubmit={(e) => void submit(e)} className="stack">
          <p>{t("app.account.inviteText")}</p>
          <TextField
            label={t("app.account.displayName")}
            name="displayName"
            autoComplete="name"
            value={displayName}
            onChange={setDisplayName}
            isRequired
            errorMessage={fieldError(problem, "displayName")}
          />
          <NewPassword password={password} repeat={repeat} onPassword={setPassword} onRepeat={setRepeat} problem={problem} />
          <ProblemMessage problem={problem && !fieldError(problem, "password") && !fieldError(problem, "displayName") ? problem : null} />
          <Button type="submit" variant="primary" isDisabled={busy || !password || password !== repeat}>
            {t("app.account.inviteSubmit")}
          </Button>
        </Form>
      )}
    </PublicPage>
  );
}

export function ResetPasswordPage() {
  const { t } = useTranslation();
  usePageTitle(t("app.account.resetTitle"));
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || password !== repeat) return;
    setBusy(true);
    setProblem(null);
    try {
      const result = await publicApi.POST("/api/v1/auth/password-reset/confirm", { body: { token, password } });
      const refused = problemOf(result);
      if (refused) setProblem(refused);
      else setDone(true);
    } catch (error) {
      setProblem(networkProblem(error));
    } finally {
      setBusy(false);
    }
  }

  return (
    <PublicPage title={t("app.account.resetTitle")}>
      {done ? (
        <Alert tone="success">
          <p>{t("app.account.resetDone")}</p>
          <Link to="/anmelden">{t("app.login.submit")}</Link>
        </Alert>
      ) : !token ? (
        <Alert tone="error">{t("app.account.noToken")}</Alert>
      ) : (
        <Form onSubmit={(e) => void submit(e)} className="stack">
          <NewPassword password={password} repeat={repeat} onPassword={setPassword} onRepeat={setRepeat} problem={problem} />
          <ProblemMessage problem={problem && !fieldError(problem, "password") ? problem : null} />
          <Button type="submit" variant="primary" isDisabled={busy || !password || password !== repeat}>
            {t("app.account.resetSubmit")}
          </Button>
          {problem?.code.startsWith("auth.") ? (
            <Link to="/passwort-vergessen">{t("app.account.forgotAgain")}</Link>
          ) : null}
        </Form>
      )}
    </PublicPage>
  );
}

export function ForgotPasswordPage() {
  const { t } = useTranslation();
  usePageTitle(t("app.account.forgotTitle"));
  const [params] = useSearchParams();
  const [tenant, setTenant] = useState(params.get("tenant") ?? localStorage.getItem("servanda.tenant") ?? "");
  const [email, setEmail] = useState("");
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setProblem(null);
    try {
      const result = await publicApi.POST("/api/v1/auth/password-reset", {
        body: { tenant: tenant.trim(), email: email.trim() },
      });
      const refused = problemOf(result);
      if (refused || !result.data) setProblem(refused ?? networkProblem(null));
      else setMessage(result.data.message);
    } catch (error) {
      setProblem(networkProblem(error));
    } finally {
      setBusy(false);
    }
  }

  return (
    <PublicPage title={t("app.account.forgotTitle")}>
      {message ? (
        <Alert tone="success">
          <p>{message}</p>
          <Link to="/anmelden">{t("app.login.submit")}</Link>
        </Alert>
      ) : (
        <Form onSubmit={(e) => void submit(e)} className="stack">
          <p>{t("app.account.forgotText")}</p>
          <TextField label={t("app.login.tenant")} name="tenant" value={tenant} onChange={setTenant} isRequired />
          <TextField
            label={t("app.login.email")}
            name="email"
            type="email"
            autoComplete="username"
            value={email}
            onChange={setEmail}
            isRequired
          />
          <ProblemMessage problem={problem} />
          <Button type="submit" variant="primary" isDisabled={busy}>
            {t("app.account.forgotSubmit")}
          </Button>
          <Link to="/anmelden">{t("app.account.backToLogin")}</Link>
        </Form>
      )}
    </PublicPage>
  );
}

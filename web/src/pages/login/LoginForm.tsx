import { useEffect, useRef, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Form } from "react-aria-components";
import { Link } from "react-router";

import { useAuth } from "../../api/auth";
import type { ApiProblem } from "../../api/problem";
import { Alert, ProblemMessage } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { TextField } from "../../ui/TextField";

const TENANT_KEY = "servanda.tenant";

export interface LoginFormProps {
  /** Prefilled tenant slug (e.g. from ?tenant=). */
  initialTenant?: string | null;
  /** Signing in again after the session ended: tenant and e-mail are fixed, only the password is asked. */
  fixedIdentity?: { tenant: string; email: string };
  onSuccess?: () => void;
}

/**
 * Local sign-in: tenant, e-mail, password; then the TOTP step when the API answers auth.mfa_required.
 * Refusals are shown as the API words them (wrong credentials, a wrong code, 429 with its wait).
 */
export function LoginForm({ initialTenant, fixedIdentity, onSuccess }: LoginFormProps) {
  const { t } = useTranslation();
  const { login } = useAuth();
  const [tenant, setTenant] = useState(
    fixedIdentity?.tenant ?? initialTenant ?? (typeof localStorage !== "undefined" ? localStorage.getItem(TENANT_KEY) : null) ?? "",
  );
  const [email, setEmail] = useState(fixedIdentity?.email ?? "");
  const [password, setPassword] = useState("");
  const [totp, setTotp] = useState("");
  const [step, setStep] = useState<"credentials" | "totp">("credentials");
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [hint, setHint] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [waitUntil, setWaitUntil] = useState<number | null>(null);
  const [, setTick] = useState(0);
  const totpRef = useRef<HTMLInputElement>(null);

  // The code field takes the focus when the TOTP step opens (and again after a wrong code).
  useEffect(() => {
    if (step === "totp") totpRef.current?.focus();
  }, [step, problem]);

  // A 429 names its wait: the button stays disabled until it has passed.
  useEffect(() => {
    if (waitUntil === null) return undefined;
    const timer = setInterval(() => {
      if (Date.now() >= waitUntil) setWaitUntil(null);
      setTick((n) => n + 1);
    }, 1000);
    return () => clearInterval(timer);
  }, [waitUntil]);
  const waiting = waitUntil !== null && Date.now() < waitUntil;

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || waiting) return;
    setBusy(true);
    setProblem(null);
    const outcome = await login({ tenant, email, password, totp: step === "totp" ? totp : undefined });
    setBusy(false);
    if (outcome.ok) {
      localStorage.setItem(TENANT_KEY, tenant.trim());
      onSuccess?.();
      return;
    }
    const p = outcome.problem;
    if (p.code === "auth.mfa_required" && step === "credentials") {
      setStep("totp");
      setHint(p.detail || t("app.login.totpHint"));
      return;
    }
    if (p.status === 429 && p.retryAfter) setWaitUntil(Date.now() + p.retryAfter * 1000);
    if (p.code === "auth.invalid_totp") setTotp("");
    setProblem(p);
  }

  function back() {
    setStep("credentials");
    setTotp("");
    setHint(null);
    setProblem(null);
  }

  return (
    <Form onSubmit={(e) => void submit(e)} aria-label={t("app.login.formLabel")}>
      {step === "credentials" ? (
        <>
          {fixedIdentity ? (
            <p className="muted">
              {fixedIdentity.email} · {fixedIdentity.tenant}
            </p>
          ) : (
            <>
              <TextField
                label={t("app.login.tenant")}
                name="tenant"
                value={tenant}
                onChange={setTenant}
                isRequired
                autoComplete="organization"
                description={t("app.login.tenantHint")}
              />
              <TextField
                label={t("app.login.email")}
                name="email"
                type="email"
                value={email}
                onChange={setEmail}
                isRequired
                autoComplete="username"
              />
            </>
          )}
          <TextField
            label={t("app.login.password")}
            name="password"
            type="password"
            value={password}
            onChange={setPassword}
            isRequired
            autoComplete="current-password"
            {...(fixedIdentity ? { autoFocus: true } : {})}
          />
        </>
      ) : (
        <>
          {hint ? <Alert tone="info">{hint}</Alert> : null}
          <TextField
            label={t("app.login.totp")}
            name="totp"
            value={totp}
            onChange={setTotp}
            isRequired
            inputRef={totpRef}
            autoComplete="one-time-code"
            inputMode="numeric"
            description={t("app.login.totpDescription")}
          />
        </>
      )}
      <ProblemMessage problem={problem} />
      <Button type="submit" variant="primary" isDisabled={busy || waiting}>
        {busy ? t("app.login.submitting") : step === "totp" ? t("app.login.confirmCode") : t("app.login.submit")}
      </Button>
      {step === "totp" ? (
        <Button variant="quiet" onPress={back}>
          {t("app.login.back")}
        </Button>
      ) : !fixedIdentity ? (
        <p className="small">
          <Link to={tenant ? `/passwort-vergessen?tenant=${encodeURIComponent(tenant)}` : "/passwort-vergessen"}>
            {t("app.login.forgot")}
          </Link>
        </p>
      ) : null}
    </Form>
  );
}

import { Button as AriaButton, type ButtonProps as AriaButtonProps } from "react-aria-components";

export type ButtonVariant = "primary" | "secondary" | "quiet" | "danger";

export interface ButtonProps extends AriaButtonProps {
  variant?: ButtonVariant;
}

/** A button (React Aria: press events, keyboard, focus ring via data-focus-visible). */
export function Button({ variant = "secondary", className, ...props }: ButtonProps) {
  const classes = ["ui-button", `ui-button--${variant}`, typeof className === "string" ? className : ""]
    .filter(Boolean)
    .join(" ");
  return <AriaButton {...props} className={classes} />;
}

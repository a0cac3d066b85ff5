import type { ReactNode } from "react";
import { Dialog as AriaDialog, Heading, Modal, ModalOverlay } from "react-aria-components";

export interface DialogProps {
  title: ReactNode;
  isOpen: boolean;
  onOpenChange?: (isOpen: boolean) => void;
  /** Whether Escape and a click outside close it (false for dialogs that need an answer). */
  isDismissable?: boolean;
  children: ReactNode;
  role?: "dialog" | "alertdialog";
  className?: string;
}

/** A modal dialog (React Aria: focus trapped and restored, Escape, aria-labelledby from the title). */
export function Dialog({ title, isOpen, onOpenChange, isDismissable = true, children, role, className }: DialogProps) {
  return (
    <ModalOverlay
      className="ui-modal-overlay"
      isOpen={isOpen}
      {...(onOpenChange ? { onOpenChange } : {})}
      isDismissable={isDismissable}
      isKeyboardDismissDisabled={!isDismissable}
    >
      <Modal className={["ui-modal", className ?? ""].filter(Boolean).join(" ")}>
        <AriaDialog className="ui-dialog" {...(role ? { role } : {})}>
          <Heading slot="title" className="ui-dialog-title">
            {title}
          </Heading>
          {children}
        </AriaDialog>
      </Modal>
    </ModalOverlay>
  );
}

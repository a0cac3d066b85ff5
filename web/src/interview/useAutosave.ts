// React binding of the autosave engine: one engine per opened contract, retries when the browser is
// back online, refetches when the tab regains focus, and tells the other tabs of this browser about
// saves (BroadcastChannel) so a second tab on the same contract notices at once. Saves carry the
// contract's `ETag` as `If-Match`; after a 412 the engine reads the stored state through `load`.
import { useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";

import { AutosaveEngine, type AutosaveSnapshot } from "./autosave";
import { fetchContract, patchContract } from "./interviewApi";
import type { ContractView } from "./model";

type TabMessage =
  | { type: "open"; tab: string }
  | { type: "here"; tab: string }
  | { type: "saved"; tab: string; updatedAt: string }
  | { type: "closed"; tab: string };

export interface Autosave {
  engine: AutosaveEngine;
  snapshot: AutosaveSnapshot;
  /** Another tab of this browser has the same contract open. */
  otherTabOpen: boolean;
  /** Re-read the contract (after a change elsewhere). */
  refresh: () => Promise<void>;
}

function newTabId(): string {
  return typeof crypto !== "undefined" && "randomUUID" in crypto ? crypto.randomUUID() : String(Math.random());
}

export function useAutosave(
  initial: ContractView,
  options: { debounceMs?: number; etag?: string | null } = {},
): Autosave {
  const contractId = initial.id;
  const tab = useMemo(newTabId, []);
  const channel = useRef<BroadcastChannel | null>(null);
  const [engine] = useState(
    () =>
      new AutosaveEngine(initial, {
        send: (patch, etag) => patchContract(contractId, patch, etag),
        etag: options.etag ?? null,
        load: async () => {
          const result = await fetchContract(contractId);
          return "data" in result ? { view: result.data, etag: result.etag } : null;
        },
        onSaved: (view) => channel.current?.postMessage({ type: "saved", tab, updatedAt: view.updatedAt } satisfies TabMessage),
        ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
      }),
  );
  const snapshot = useSyncExternalStore(engine.subscribe, engine.getSnapshot);
  const [otherTabs, setOtherTabs] = useState<Set<string>>(() => new Set());

  const refresh = useMemo(
    () => async (source: "server" | "tab" = "server") => {
      const result = await fetchContract(contractId);
      if ("data" in result) engine.receive(result.data, { source, etag: result.etag });
    },
    [contractId, engine],
  );

  // Leaving the page sends what is unsaved (it stays in sessionStorage until the server has it).
  useEffect(() => () => void engine.flush(), [engine]);

  useEffect(() => {
    if (typeof BroadcastChannel === "undefined") return undefined;
    const bc = new BroadcastChannel(`servanda.contract.${contractId}`);
    channel.current = bc;
    bc.onmessage = (event: MessageEvent<TabMessage>) => {
      const message = event.data;
      if (!message || message.tab === tab) return;
      if (message.type === "open") bc.postMessage({ type: "here", tab } satisfies TabMessage);
      if (message.type === "closed") {
        setOtherTabs((tabs) => new Set([...tabs].filter((t) => t !== message.tab)));
        return;
      }
      setOtherTabs((tabs) => (tabs.has(message.tab) ? tabs : new Set([...tabs, message.tab])));
      if (message.type === "saved") void refresh("tab");
    };
    bc.postMessage({ type: "open", tab } satisfies TabMessage);
    return () => {
      bc.postMessage({ type: "closed", tab } satisfies TabMessage);
      bc.close();
      channel.current = null;
    };
  }, [contractId, tab, refresh]);

  useEffect(() => {
    const online = () => void engine.retry();
    const focus = () => {
      if (document.visibilityState === "visible") void refresh("server");
    };
    const beforeUnload = (event: BeforeUnloadEvent) => {
      if (engine.hasUnsaved()) event.preventDefault();
    };
    window.addEventListener("online", online);
    window.addEventListener("focus", focus);
    document.addEventListener("visibilitychange", focus);
    window.addEventListener("beforeunload", beforeUnload);
    return () => {
      window.removeEventListener("online", online);
      window.removeEventListener("focus", focus);
      document.removeEventListener("visibilitychange", focus);
      window.removeEventListener("beforeunload", beforeUnload);
    };
  }, [engine, refresh]);

  return { engine, snapshot, otherTabOpen: otherTabs.size > 0, refresh: () => refresh("server") };
}

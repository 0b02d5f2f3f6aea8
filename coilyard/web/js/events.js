// Server-Sent Events from /api/events, read with fetch so the bearer token goes in a header (EventSource
// cannot send one). Reconnects with a growing pause; `onOpen` runs after each (re)connect so the caller can
// reload a snapshot and miss nothing.
import { session } from "./api.js";

export function follow({ onEvent, onOpen, onState, types }) {
  let stopped = false;
  let pause = 500;
  let controller = null;

  async function connect() {
    while (!stopped) {
      const s = session();
      if (!s) { onState?.("logged out"); return; }
      controller = new AbortController();
      try {
        const query = types ? `?types=${encodeURIComponent(types)}` : "";
        const reply = await fetch(`/api/events${query}`, {
          headers: { Authorization: `Bearer ${s.access_token}`, Accept: "text/event-stream" },
          signal: controller.signal,
        });
        if (!reply.ok || !reply.body) throw new Error(`HTTP ${reply.status}`);
        onState?.("live");
        pause = 500;
        await onOpen?.();
        const reader = reply.body.pipeThrough(new TextDecoderStream()).getReader();
        let text = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += value;
          let cut;
          while ((cut = text.indexOf("\n\n")) >= 0) {
            const block = text.slice(0, cut);
            text = text.slice(cut + 2);
            const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
            if (!data) continue;
            try { onEvent(JSON.parse(data)); } catch (e) { console.error("bad event", e, data); }
          }
        }
      } catch (error) {
        if (stopped) return;
      }
      onState?.("reconnecting");
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 10000);
    }
  }
  connect();
  return () => { stopped = true; controller?.abort(); };
}

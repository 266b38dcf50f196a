// Infra Mind console, chat page: send the question in the background and
// show the answer as it is written (Server-Sent Events over fetch). The
// form works without this: it posts, waits for the answer and shows the
// conversation again.

const form = document.getElementById("chat-form");
const log = document.getElementById("chat-log");
if (form && log && "fetch" in window && "TextDecoderStream" in window) {
  const box = form.elements.namedItem("content");
  const error = document.getElementById("chat-error");
  const button = form.querySelector("button[type=submit]");
  const bubble = (role, text) => {
    const li = document.createElement("li");
    li.className = "msg msg-" + role;
    const who = document.createElement("p");
    who.className = "msg-who";
    who.textContent = role === "user" ? "You" : "Consultant";
    const body = document.createElement("div");
    body.className = "msg-text";
    body.textContent = text;
    li.append(who, body);
    log.append(li);
    return body;
  };
  // parse splits a Server-Sent Events buffer into whole events.
  const parse = (buf, onEvent) => {
    let at;
    while ((at = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, at);
      buf = buf.slice(at + 2);
      let name = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      let parsed;
      try { parsed = JSON.parse(data); } catch { continue; /* a malformed event is skipped */ }
      onEvent(name, parsed);
    }
    return buf;
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const question = box.value.trim();
    if (!question) { box.focus(); return; }
    error.hidden = true;
    button.disabled = true;
    const body = new URLSearchParams(new FormData(form));
    let answer = null;
    try {
      const resp = await fetch(form.action, {
        method: "POST", body, credentials: "same-origin", headers: { Accept: "text/event-stream" },
      });
      if (!resp.ok || !resp.headers.get("content-type")?.startsWith("text/event-stream")) {
        throw new Error((await resp.text()) || resp.statusText);
      }
      bubble("user", question);
      box.value = "";
      answer = bubble("assistant", "");
      answer.parentElement.setAttribute("aria-busy", "true");
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf = parse(buf + value, (name, data) => {
          if (name === "token") answer.textContent += data.text;
          else if (name === "retract") answer.textContent = "";
          else if (name === "message") {
            answer.textContent = data.content;
            answer.parentElement.id = "latest";
            answer.parentElement.dataset.done = "true";
          } else if (name === "error") throw new Error(data.detail);
        });
      }
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      if (answer) answer.parentElement.removeAttribute("aria-busy");
      button.disabled = false;
    }
  });
}

// Infra Mind console, estimate page: answer as the inputs change. The form
// works without this (it posts and the page comes back with the answer);
// with it, each change posts the same form in the background and swaps in
// the server-rendered answer.

const form = document.getElementById("estimate-form");
if (form && "fetch" in window) {
  let timer = 0;
  let inFlight = null;
  const markFields = (result) => {
    for (const el of form.querySelectorAll("[aria-invalid]")) {
      el.removeAttribute("aria-invalid");
      el.closest(".field")?.classList.remove("invalid");
    }
    for (const li of result.querySelectorAll("li[data-field]")) {
      const name = li.dataset.field;
      const input = name && form.elements.namedItem(name);
      if (input && input.setAttribute) {
        input.setAttribute("aria-invalid", "true");
        input.closest(".field")?.classList.add("invalid");
      }
    }
  };
  const ask = async () => {
    if (inFlight) inFlight.abort();
    inFlight = new AbortController();
    const body = new URLSearchParams(new FormData(form));
    try {
      const resp = await fetch(form.action, {
        method: "POST", body, signal: inFlight.signal, credentials: "same-origin",
        headers: { "X-Console-Fragment": "estimate-result" },
      });
      if (!resp.headers.get("content-type")?.startsWith("text/html")) return;
      const tpl = document.createElement("template");
      tpl.innerHTML = await resp.text();
      const fresh = tpl.content.getElementById("estimate-result");
      const old = document.getElementById("estimate-result");
      if (!fresh || !old) return;
      old.replaceWith(fresh);
      markFields(fresh);
    } catch (err) {
      if (err.name !== "AbortError") form.dataset.offline = "true";
    }
  };
  const soon = () => { clearTimeout(timer); timer = setTimeout(ask, 250); };
  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  form.addEventListener("submit", (ev) => { ev.preventDefault(); clearTimeout(timer); ask(); });
  ask();
}

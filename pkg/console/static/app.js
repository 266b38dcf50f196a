// Infra Mind console: progressive enhancement only; every page works without it.
// Live progress: follow the assessment's Server-Sent Events, light up each
// family as its status arrives (the stream replays from the start after a
// reload), and open the result when the completed event comes.

const section = document.getElementById("progress");
if (section && section.dataset.terminal !== "true" && "EventSource" in window) {
  const overall = document.getElementById("overall-status");
  const then = document.getElementById("then");
  const setStatus = (el, status) => {
    el.className = el.className.replace(/\bs-\S+/g, "").trim() + " s-" + status;
    el.textContent = status;
  };
  const es = new EventSource(section.dataset.events);
  es.addEventListener("status", (ev) => {
    let data;
    try { data = JSON.parse(ev.data); } catch { return; }
    if (data.status !== "family_completed") {
      if (data.status) setStatus(overall, data.status);
      return;
    }
    setStatus(overall, "running");
    const li = data.family && document.getElementById("family-" + data.family);
    if (!li) return;
    li.className = "family f-completed";
    li.querySelector(".fstatus").textContent = "completed";
    if (data.message) li.querySelector(".fsummary").textContent = data.message;
  });
  es.addEventListener("completed", (ev) => {
    es.close();
    let data = {};
    try { data = JSON.parse(ev.data); } catch { /* keep the default */ }
    setStatus(overall, data.status || "completed");
    then.hidden = false;
    window.location.assign(section.dataset.then);
  });
  es.onerror = () => {
    // The browser reconnects with Last-Event-ID; a closed stream (204 after
    // the end) means the assessment ended: reload to show it.
    if (es.readyState === EventSource.CLOSED) window.location.reload();
  };
}
